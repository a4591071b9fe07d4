# Fig. 14b: restore overhead per model
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 14b: restore overhead per model"
load "lib/common.plt"
set xlabel "Model"
set ylabel "Restore overhead (% of model latency)"
set key off
load "lib/clustered.plt"
