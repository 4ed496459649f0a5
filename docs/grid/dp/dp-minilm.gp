# Clean accuracy and the collective's efficacy against DP-SGD's epsilon: grids/dp/minilm-eps.json
# (all-MiniLM-L6-v2, only the classifier trained; { -> Software Developer every 5 words at 5%, 15%,
# 30%; 2,400/600 synthetic resumes; 1 trial).  Reads dp-minilm.summary.csv, the grid's
# OUT/summary.csv.  Left: clean test accuracy of the model trained on the poisoned set (solid) and
# of the unpoisoned model (dotted), the largest class's share (grey).  Right: efficacy on the
# non-target probes (test documents of other classes with the signal inserted) (solid), and the
# same probes through the unpoisoned model (dotted): the collective's effect is the gap.
# Run from docs/grid/dp: gnuplot dp-minilm.gp
set terminal pngcairo size 1300,520 enhanced font ",10"
set output "dp-minilm.png"
set datafile separator ","
f = "dp-minilm.summary.csv"
# x position of a variant: epsilon 1, 3, 8, then no DP
xpos(v) = v eq "eps1" ? 0 : v eq "eps3" ? 1 : v eq "eps8" ? 2 : v eq "no DP" ? 3 : NaN
sel(cond, lev, col) = (strcol(2) eq cond && strcol(4) eq lev) ? 100 * column(col) : NaN
set xrange [-0.3:3.3]
set xtics ("ε = 1" 0, "ε = 3" 1, "ε = 8" 2, "no DP" 3)
set yrange [0:100]
set grid
set key top left font ",9"
set multiplot layout 1,2 title "all-MiniLM-L6-v2 (classifier on frozen features), DP-SGD at δ = 1e-5, C = 1; synthetic resumes 2,400/600; 1 trial"
set title "clean accuracy (%)"
plot for [lev in "A=0.05 A=0.15 A=0.3"] f using (xpos(strcol(1))):(sel("alone", lev, 8)) smooth unique with linespoints lw 2 pt 7 title "A at ".(lev eq "A=0.05" ? "5%" : lev eq "A=0.15" ? "15%" : "30%"), \
     f using (xpos(strcol(1))):(strcol(2) eq "unpoisoned" ? 100 * $8 : NaN) smooth unique with linespoints dt 3 lw 2 pt 6 lc rgb "black" title "unpoisoned", \
     14.3 with lines dt 2 lc rgb "grey50" title "largest class (14.3%)"
set title "efficacy on non-target probes (%)"
plot for [lev in "A=0.05 A=0.15 A=0.3"] f using (xpos(strcol(1))):(sel("alone", lev, 12)) smooth unique with linespoints lw 2 pt 7 title "A at ".(lev eq "A=0.05" ? "5%" : lev eq "A=0.15" ? "15%" : "30%"), \
     f using (xpos(strcol(1))):(strcol(2) eq "unpoisoned" ? 100 * $12 : NaN) smooth unique with linespoints dt 3 lw 2 pt 6 lc rgb "black" title "unpoisoned model"
unset multiplot
