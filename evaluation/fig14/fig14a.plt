# Fig. 14a: device-queue capacity trade-off
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 14a: device-queue capacity trade-off"
load "lib/common.plt"
set xlabel "Device-queue capacity (kernels)"
set ylabel "p90 preemption latency (µs)"
set logscale x 2
set y2label "Average BE execution latency (ms)"
set y2range [0:*]
set y2tics nomirror
set style data linespoints
set pointsize 1.2
plot data using 1:2 axes x1y1 linewidth 2, data using 1:3 axes x1y2 linewidth 2 dashtype 2
