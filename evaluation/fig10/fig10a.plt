# Fig. 10a: average RT latency on DISB
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 10a: average RT latency on DISB"
load "lib/common.plt"
set xlabel "DISB workload"
set ylabel "Average RT latency (ms)"
load "lib/clustered.plt"
