# Clustered bars: column 1 labels the groups, every further column is one series.
stats data using 0 nooutput
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics scale 0
plot for [i=2:STATS_columns] data using i:xtic(1)
