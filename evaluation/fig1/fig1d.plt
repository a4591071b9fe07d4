# Fig. 1d: BE throughput as the RT rate rises
data = ARG1; out = ARG2; fmt = ARG3; note = ARGC >= 4 ? ARG4 : ""
figtitle = "Fig. 1d: BE throughput as the RT rate rises"
load "lib/common.plt"
set xlabel "RT request rate (req/s)"
set ylabel "BE throughput (req/s)"
load "lib/lines.plt"
