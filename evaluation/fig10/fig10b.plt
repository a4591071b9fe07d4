# Fig. 10b: overall throughput on DISB
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 10b: overall throughput on DISB"
load "lib/common.plt"
set xlabel "DISB workload"
set ylabel "Overall throughput (req/s)"
load "lib/clustered.plt"
