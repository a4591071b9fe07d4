# Fig. 11a: average preemption latency on DISB
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 11a: average preemption latency on DISB"
load "lib/common.plt"
set xlabel "DISB workload"
set ylabel "Average preemption latency (µs)"
load "lib/clustered.plt"
