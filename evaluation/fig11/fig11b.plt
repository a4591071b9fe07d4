# Fig. 11b: preemption latency (p90) per BE model
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 11b: preemption latency (p90) per BE model"
load "lib/common.plt"
set xlabel "BE model"
set ylabel "p90 preemption latency (µs)"
load "lib/clustered.plt"
