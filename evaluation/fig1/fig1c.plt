# Fig. 1c: RT execution time vs wait-based preemption latency (p95)
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 1c: RT execution time vs wait-based preemption latency (p95)"
load "lib/common.plt"
set xlabel "# BE tasks"
set ylabel "Latency (ms)"
load "lib/clustered.plt"
