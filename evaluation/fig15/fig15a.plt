# Fig. 15a: maximum RT execution latency with dynamic kernel padding
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 15a: maximum RT execution latency with dynamic kernel padding"
load "lib/common.plt"
set xlabel "Model"
set ylabel "Maximum RT execution latency (ms)"
load "lib/clustered.plt"
