# Fig. 1b: RT latency under GPU streams
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 1b: RT latency under GPU streams"
load "lib/common.plt"
set xlabel "# BE tasks"
set ylabel "RT latency (ms)"
# One row per RT request: column 1 (the number of BE tasks) groups the boxes.
set style data boxplot
set style fill solid 0.3 border -1
set style boxplot outliers pointtype 7
set pointsize 0.4
# Boxes of a factor sit at x = 1, 2, ...: keep the first one in view.
set xrange [0.5:*]
set offsets 0, 0.5, 0, 0
set key off
plot data using (1):2:(0.5):1
