# Figure 3 style, six panels: the fig3-small presets (grids/fig3-small/*.json), one panel per
# scenario.  Each fig3-small/<charset>-<scenario>.dat is that grid's OUT/plots/fig3.dat (per
# collective: x = participation %, alone mean/std, joint mean/std, unpoisoned model's rate).
# Dashed = alone, solid = joint, dotted = unpoisoned.  Run from docs/grid: gnuplot fig3-small.gp
set terminal pngcairo size 1500,860 enhanced font ",10"
set output "fig3-small.png"
set multiplot layout 2,3 title "fig3-small: efficacy vs participation (tiny DistilBERT, synthetic corpus 800/200; mean ± std over 2 trials)"
set logscale x
set xrange [0.7:4.3]
set xtics (1, 2, 3, 4)
set yrange [0:105]
set grid
set key bottom right font ",8"
set xlabel "participation (% of training set)"
set ylabel "efficacy (%)"
files = "u2e17-diff-targets-diff-chars u2e17-same-char-diff-targets u2e17-diff-chars-same-target braces-diff-targets-diff-chars braces-same-char-diff-targets braces-diff-chars-same-target"
titles = "U+2E17/U+2E18:~A0~vs~B1~(different~targets,~different~chars) U+2E17/U+2E18:~A0~vs~B0~(same~char,~different~targets) U+2E17/U+2E18:~A0~vs~A1~(different~chars,~same~target) \\{/\\}:~A0~vs~B1~(different~targets,~different~chars) \\{/\\}:~A0~vs~B0~(same~char,~different~targets) \\{/\\}:~A0~vs~A1~(different~chars,~same~target)"
second = "B1 B0 A1 B1 B0 A1"
do for [k=1:6] {
  f = "fig3-small/".word(files, k).".dat"
  t = word(titles, k)
  set title system("echo '".t."' | tr '~' ' '") font ",10"
  plot f index 0 using 1:2:3 with yerrorlines dt 2 lw 2 pt 7 lc 1 title "A0 alone", \
       f index 0 using 1:4:5 with yerrorlines dt 1 lw 2 pt 5 lc 1 title "A0 joint", \
       f index 1 using 1:2:3 with yerrorlines dt 2 lw 2 pt 7 lc 2 title word(second, k)." alone", \
       f index 1 using 1:4:5 with yerrorlines dt 1 lw 2 pt 5 lc 2 title word(second, k)." joint", \
       f index 0 using 1:6 with lines dt 3 lc 1 title "A0 unpoisoned", \
       f index 1 using 1:6 with lines dt 3 lc 2 title word(second, k)." unpoisoned"
}
unset multiplot
