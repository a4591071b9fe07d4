# Fig. 17a: kernel-selection latency on DISB
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 17a: kernel-selection latency on DISB"
load "lib/common.plt"
set xlabel "DISB workload"
set ylabel "Average kernel-selection latency (µs)"
set key off
load "lib/clustered.plt"
