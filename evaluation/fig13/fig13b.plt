# Fig. 13b: preemption latency (median) vs queued BE kernels
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 13b: preemption latency (median) vs queued BE kernels"
load "lib/common.plt"
set xlabel "# queued BE kernels"
set ylabel "Median preemption latency (µs)"
load "lib/lines.plt"
