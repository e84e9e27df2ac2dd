package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Point is one (x, y) of a line.
type Point struct{ X, Y float64 }

// Line is one named curve of a chart.
type Line struct {
	Name   string
	Points []Point
}

// LineChart is a chart of curves over a shared x axis, such as latency
// percentiles against offered load.
type LineChart struct {
	Title, XLabel, YLabel string
	Lines                 []Line
	// Limit, when not zero, draws a dashed horizontal line labelled LimitLabel.
	Limit      float64
	LimitLabel string
	// LogY scales the y axis logarithmically, so that latencies a hundred
	// times apart stay readable on one chart; y values must be positive.
	LogY bool
}

// Bar is one bar of a BarChart: a value with its own target mark.
type Bar struct {
	Label  string
	Value  float64
	Target float64 // 0: no mark
	Pass   bool
}

// BarChart is horizontal bars, such as each comparison's ratio against its
// reference, with the target drawn on each bar.
type BarChart struct {
	Title, XLabel string
	Bars          []Bar
}

const (
	chartW, chartH                 = 720, 400
	padL, padR, padT, padB         = 70, 160, 40, 50
	plotW, plotH                   = chartW - padL - padR, chartH - padT - padB
	barRowH, barPadL, barW, barPad = 28, 300, 360, 60
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

// SVG renders the chart as a standalone SVG document.
func (c LineChart) SVG() string {
	xmax, ymax := 0.0, c.Limit
	for _, l := range c.Lines {
		for _, p := range l.Points {
			xmax, ymax = math.Max(xmax, p.X), math.Max(ymax, p.Y)
		}
	}
	xmax, ymax = niceCeil(xmax), niceCeil(ymax*1.05)
	x := func(v float64) float64 { return padL + v/xmax*plotW }
	y := func(v float64) float64 { return padT + plotH - v/ymax*plotH }
	yticks := []float64{0, ymax / 5, 2 * ymax / 5, 3 * ymax / 5, 4 * ymax / 5, ymax}
	if c.LogY {
		lo, hi := math.Floor(math.Log10(c.minY())), math.Ceil(math.Log10(ymax))
		if hi <= lo {
			hi = lo + 1
		}
		y = func(v float64) float64 {
			return padT + plotH - (math.Log10(math.Max(v, math.Pow(10, lo)))-lo)/(hi-lo)*plotH
		}
		yticks = nil
		for e := lo; e <= hi; e++ {
			for _, m := range []float64{1, 2, 5} {
				if v := m * math.Pow(10, e); e < hi || m == 1 {
					yticks = append(yticks, v)
				}
			}
		}
	}

	var b strings.Builder
	header(&b, chartW, chartH, c.Title)
	for i := 0; i <= 5; i++ {
		xv := xmax * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>`+"\n", x(xv), padT, x(xv), padT+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(xv), padT+plotH+16, num(xv))
	}
	for _, yv := range yticks {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", padL, y(yv), padL+plotW, y(yv))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", padL-6, y(yv)+4, num(yv))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", padL, padT, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", padL+plotW/2, chartH-10, esc(c.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", padT+plotH/2, esc(c.YLabel))
	if c.Limit > 0 {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#000" stroke-dasharray="6 4"/>`+"\n", padL, y(c.Limit), padL+plotW, y(c.Limit))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f">%s</text>`+"\n", padL+plotW+6, y(c.Limit)+4, esc(c.LimitLabel))
	}
	for i, l := range c.Lines {
		color := palette[i%len(palette)]
		var pts []string
		for _, p := range l.Points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.X), y(p.Y)))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(p.X), y(p.Y), color)
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), color)
		ly := padT + 14 + 18*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", padL+plotW+10, ly-4, padL+plotW+30, ly-4, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", padL+plotW+36, ly, esc(l.Name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// minY is the smallest positive y of the chart, for a log scale.
func (c LineChart) minY() float64 {
	m := math.Inf(1)
	for _, l := range c.Lines {
		for _, p := range l.Points {
			if p.Y > 0 {
				m = math.Min(m, p.Y)
			}
		}
	}
	if c.Limit > 0 {
		m = math.Min(m, c.Limit)
	}
	if math.IsInf(m, 1) {
		return 1
	}
	return m
}

// SVG renders the bar chart as a standalone SVG document.
func (c BarChart) SVG() string {
	xmax := 0.0
	for _, bar := range c.Bars {
		xmax = math.Max(xmax, math.Max(bar.Value, bar.Target))
	}
	xmax = niceCeil(xmax * 1.05)
	h := padT + barRowH*len(c.Bars) + barPad
	x := func(v float64) float64 { return barPadL + v/xmax*barW }
	var b strings.Builder
	header(&b, barPadL+barW+40, h, c.Title)
	for i := 0; i <= 4; i++ {
		v := xmax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>`+"\n", x(v), padT, x(v), h-barPad+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(v), h-barPad+20, num(v))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", barPadL+barW/2, h-12, esc(c.XLabel))
	for i, bar := range c.Bars {
		top := padT + barRowH*i
		color := "#d62728"
		if bar.Pass {
			color = "#2ca02c"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", barPadL-8, top+18, esc(bar.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", barPadL, top+5, x(bar.Value)-barPadL, barRowH-10, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", x(bar.Value)+4, top+18, num(bar.Value))
		if bar.Target > 0 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000" stroke-width="2"/>`+"\n", x(bar.Target), top+1, x(bar.Target), top+barRowH-1)
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func header(b *strings.Builder, w, h int, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", w, h)
	fmt.Fprintf(b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", 10, esc(title))
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func num(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func esc(s string) string { return html.EscapeString(s) }
