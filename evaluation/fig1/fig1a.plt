# Fig. 1a: throughput under GPU streams
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 1a: throughput under GPU streams"
load "lib/common.plt"
set xlabel "# BE tasks"
set ylabel "Throughput (req/s)"
stats data using 0 nooutput
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6
set xtics scale 0
plot for [i=2:STATS_columns] data using i:xtic(1)
