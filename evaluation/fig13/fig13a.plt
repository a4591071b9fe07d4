# Fig. 13a: preemption latency (p80) vs BE kernel execution time
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 13a: preemption latency (p80) vs BE kernel execution time"
load "lib/common.plt"
set xlabel "BE kernel execution time (µs)"
set ylabel "p80 preemption latency (µs)"
set logscale x 10
load "lib/lines.plt"
