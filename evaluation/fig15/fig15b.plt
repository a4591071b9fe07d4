# Fig. 15b: overall throughput with dynamic kernel padding
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 15b: overall throughput with dynamic kernel padding"
load "lib/common.plt"
set xlabel "Model"
set ylabel "Overall throughput (req/s)"
load "lib/clustered.plt"
