# Lines with points: column 1 is the numeric x value, every further column is one series.
stats data using 0 nooutput
set style data linespoints
set pointsize 1.2
plot for [i=2:STATS_columns] data using 1:i linewidth 2
