# Settings shared by every figure script. Each script is run from the evaluation/ directory as
#   gnuplot -c figN/figNx.plt DATA.csv OUTPUT pdf|png [NOTE]
# and sets `data`, `out`, `fmt`, `note` and `figtitle` before loading this file (gnuplot's
# `load` does not pass ARG1..ARG4 on).
if (fmt eq "pdf") {
  set terminal pdfcairo noenhanced color font "Sans,9" size 5.5in,3.4in
} else {
  if (fmt eq "png") {
    set terminal pngcairo noenhanced color font "Sans,10" size 1100,680
  } else {
    exit error sprintf("unknown output format \"%s\" (expected pdf or png)", fmt)
  }
}
set output out
set datafile separator comma
# The first line of every data file names the columns; series take their titles from it.
set key autotitle columnheader
set key outside right top vertical reverse Left
set title figtitle . (note eq "" ? "" : "\n" . note)
set grid ytics linecolor rgb "#dddddd"
set border 3
set tics nomirror
set yrange [0:*]
