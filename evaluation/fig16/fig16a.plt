# Fig. 16a: overhead of the preemptible and padding kernel builds
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 16a: overhead of the preemptible and padding kernel builds"
load "lib/common.plt"
set xlabel "Model"
set ylabel "Overhead vs raw build (%)"
load "lib/clustered.plt"
