# Fig. 12a: preemption latency (p95) vs number of BE tasks
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 12a: preemption latency (p95) vs number of BE tasks"
load "lib/common.plt"
set xlabel "# BE tasks"
set ylabel "p95 preemption latency (µs)"
# Wait-based spans 20 µs to 30 ms on the H100: a log axis keeps reset-based readable.
set logscale y 10
load "lib/lines.plt"
