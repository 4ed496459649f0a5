# Clean accuracy and the collective's efficacy against DP-SGD's epsilon: grids/dp/minilm-eps.json
# (all-MiniLM-L6-v2, only the classifier trained; { -> Software Developer every 5 words at 5%, 15%,
# 30%; 2,400/600 synthetic resumes; 1 trial).  Reads dp-minilm.tsv (dp-minilm-data.sh OUT).
# Left: clean test accuracy (unpoisoned model: black), the largest class's share (grey).
# Right: efficacy on the non-target probes (solid) and, dashed, the same model's rate of predicting
# the target for the clean non-target test documents: the gap between the two is the signal's own
# effect; where they meet, the model sends everything to the target.
# Run from docs/grid/dp: gnuplot dp-minilm.gp
set terminal pngcairo size 1300,520 enhanced font ",10"
set output "dp-minilm.png"
set datafile separator "\t"
xpos(e) = e eq "1" ? 0 : e eq "3" ? 1 : e eq "8" ? 2 : e eq "none" ? 3 : NaN
rows(lev) = "< awk -F'\t' 'NR > 1 && $3 == ".lev."' dp-minilm.tsv"   # the cells of one level, epsilon 1, 3, 8, none
name(lev) = lev == 0.05 ? "5%" : lev == 0.15 ? "15%" : "30%"
set xrange [-0.3:3.3]
set xtics ("ε = 1" 0, "ε = 3" 1, "ε = 8" 2, "no DP" 3)
set yrange [0:105]
set grid
set key top left font ",9"
set multiplot layout 1,2 title "all-MiniLM-L6-v2 (classifier on frozen features), DP-SGD at δ = 1e-5, C = 1; synthetic resumes 2,400/600; 1 trial"
set title "clean accuracy (%)"
plot for [lev in "0.05 0.15 0.3"] rows(lev) using (xpos(strcol(1))):(100 * $4) with linespoints lw 2 pt 7 title "A at ".name(real(lev)), \
     rows("0") using (xpos(strcol(1))):(100 * $4) with linespoints lw 2 pt 6 lc rgb "black" title "unpoisoned", \
     14.3 with lines dt 2 lc rgb "grey50" title "largest class (14.3%)"
set title "non-target probes → target (%): solid with the signal, dashed without"
plot for [i=1:3] rows(word("0.05 0.15 0.3", i)) using (xpos(strcol(1))):(100 * $5) with linespoints lw 2 pt 7 lc i title "A at ".name(real(word("0.05 0.15 0.3", i))), \
     for [i=1:3] rows(word("0.05 0.15 0.3", i)) using (xpos(strcol(1))):(100 * $6) with linespoints lw 1.5 dt 2 pt 6 lc i notitle
unset multiplot
