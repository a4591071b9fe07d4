# Fig. 15b: BE throughput beside back-to-back RT work
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 15b: BE throughput beside back-to-back RT work"
load "lib/common.plt"
set xlabel "Model"
set ylabel "BE inferences completed while RT runs (req/s)"
load "lib/clustered.plt"
