package learn

// Generated data sets for the quality tests: shapes drawn with the standard
// library, and a text corpus built from topic vocabularies. Both are made
// hard on purpose (random colours, positions, sizes, tilts, clutter and
// noise; shared and off-topic words, typos, two languages) so that the
// measured accuracies say something about real data.

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"strings"
)

// shapeClasses are the image classes. Colour says nothing about the class:
// every shape gets random colours, so the learner has to see the shape.
var shapeClasses = []string{"circle", "square", "triangle", "stripes", "cross", "ring"}

// shapeImage draws one 64×64 image of class c (an index of shapeClasses).
func shapeImage(rng *rand.Rand, c, size int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	bg := randomColour(rng)
	fg := randomColour(rng)
	for colourDistance(bg, fg) < 0.45 {
		fg = randomColour(rng)
	}
	s := float64(size)
	r := s * (0.16 + 0.16*rng.Float64())
	cx := r + (s-2*r)*rng.Float64()
	cy := r + (s-2*r)*rng.Float64()
	tilt := (rng.Float64() - 0.5) * 40 * math.Pi / 180
	cos, sin := math.Cos(tilt), math.Sin(tilt)
	period := s * (0.09 + 0.06*rng.Float64())
	stripeAngle := rng.Float64() * math.Pi
	thick := r * (0.25 + 0.15*rng.Float64())
	grad := [3]float64{(rng.Float64() - 0.5) * 0.3, (rng.Float64() - 0.5) * 0.3, rng.Float64() * 2 * math.Pi}
	inside := func(x, y float64) bool {
		dx, dy := x-cx, y-cy
		u, v := dx*cos+dy*sin, -dx*sin+dy*cos // the shape's own axes
		switch shapeClasses[c] {
		case "circle":
			return dx*dx+dy*dy <= r*r
		case "square":
			return math.Abs(u) <= r*0.85 && math.Abs(v) <= r*0.85
		case "triangle":
			// Equilateral, pointing up in its own axes.
			h := r * 1.5
			top, bottom := -r, -r+h
			if v < top || v > bottom {
				return false
			}
			half := (v - top) / h * r * 1.15
			return math.Abs(u) <= half
		case "stripes":
			if dx*dx+dy*dy > r*r*1.1 {
				return false
			}
			t := dx*math.Cos(stripeAngle) + dy*math.Sin(stripeAngle)
			return math.Mod(t+1000*period, period) < period/2
		case "cross":
			return (math.Abs(u) <= thick/1.6 && math.Abs(v) <= r) || (math.Abs(v) <= thick/1.6 && math.Abs(u) <= r)
		case "ring":
			d := math.Sqrt(dx*dx + dy*dy)
			return d <= r && d >= r-thick
		}
		panic("unknown shape")
	}
	type dot struct{ x, y, r float64 }
	var dots []dot
	var dotColour [3]float64
	for range rng.IntN(3) {
		dots = append(dots, dot{rng.Float64() * s, rng.Float64() * s, 1.5 + 1.5*rng.Float64()})
		dotColour = randomColour(rng)
	}
	noise := 0.02 + 0.06*rng.Float64()
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			// 2×2 supersampling gives the edges partial coverage, as a
			// camera's would.
			var cover float64
			for _, o := range [4][2]float64{{0.25, 0.25}, {0.75, 0.25}, {0.25, 0.75}, {0.75, 0.75}} {
				if inside(float64(x)+o[0], float64(y)+o[1]) {
					cover += 0.25
				}
			}
			shade := grad[0]*math.Cos(grad[2])*(float64(x)/s-0.5) + grad[1]*math.Sin(grad[2])*(float64(y)/s-0.5)
			var px [3]float64
			for ch := range px {
				px[ch] = bg[ch]*(1-cover) + fg[ch]*cover + shade
			}
			for _, d := range dots {
				if (float64(x)-d.x)*(float64(x)-d.x)+(float64(y)-d.y)*(float64(y)-d.y) <= d.r*d.r {
					px = dotColour
				}
			}
			var out [3]uint8
			for ch := range px {
				v := px[ch] + rng.NormFloat64()*noise
				out[ch] = uint8(math.Round(255 * min(max(v, 0), 1)))
			}
			img.SetRGBA(x, y, color.RGBA{out[0], out[1], out[2], 255})
		}
	}
	return img
}

func randomColour(rng *rand.Rand) [3]float64 {
	return [3]float64{rng.Float64(), rng.Float64(), rng.Float64()}
}

func colourDistance(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

// shapeSet draws perClass images of every class, classes interleaved.
func shapeSet(seed uint64, perClass int) ([]image.Image, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var imgs []image.Image
	var ys []int
	for i := 0; i < perClass; i++ {
		for c := range shapeClasses {
			imgs = append(imgs, shapeImage(rng, c, 64))
			ys = append(ys, c)
		}
	}
	return imgs, ys
}

// handLabel returns labels with a share of each class's rows labeled (the
// first ones in a seeded shuffle) and the rest "". Stratified, so that a
// 10% labeling of a small set cannot leave a class without examples.
func handLabel(ys []int, names []string, share float64, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 2))
	byClass := map[int][]int{}
	for i, c := range ys {
		byClass[c] = append(byClass[c], i)
	}
	labels := make([]string, len(ys))
	for c := range names {
		rows := byClass[c]
		rng.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
		n := int(math.Round(share * float64(len(rows))))
		for _, i := range rows[:n] {
			labels[i] = names[c]
		}
	}
	return labels
}

// handLabelN labels exactly n rows of each class.
func handLabelN(ys []int, names []string, n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 3))
	byClass := map[int][]int{}
	for i, c := range ys {
		byClass[c] = append(byClass[c], i)
	}
	labels := make([]string, len(ys))
	for c := range names {
		rows := byClass[c]
		rng.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
		for _, i := range rows[:n] {
			labels[i] = names[c]
		}
	}
	return labels
}

// The text corpus: five topics, each with an English and a Chinese
// vocabulary written for this test. Documents mix topic words with function
// words every topic shares, words that belong to two topics, words from a
// wrong topic, and typos.
var topicNames = []string{"sport", "cooking", "finance", "computing", "health"}

var topicWords = map[string][]string{
	"sport": strings.Fields(`match goal striker referee league season coach keeper penalty
		stadium tournament championship midfield defender sprint marathon racket tennis
		basketball dribble rebound inning pitcher umpire medal olympic athlete relay
		hurdles offside tackle volley serve fixture derby supporters whistle`),
	"cooking": strings.Fields(`recipe oven simmer garlic onion saucepan flour butter knead dough
		bake roast skillet whisk pepper salt vinegar broth stew noodles dumpling fillet
		marinate grill spatula ladle seasoning caramel pastry crust yeast chopped diced
		tablespoon teaspoon boil fry steam`),
	"finance": strings.Fields(`shares dividend bond yield inflation interest lender mortgage
		equity portfolio broker stock index earnings revenue quarter deficit budget tax
		fiscal currency exchange hedge fund investor audit liquidity credit debt loan
		valuation merger acquisition bankruptcy pension`),
	"computing": strings.Fields(`software compiler kernel server database query network router
		protocol encryption password browser cache memory processor thread bug debugger
		deploy container cluster latency bandwidth algorithm binary source repository
		commit branch merge function variable pointer`),
	"health": strings.Fields(`doctor patient clinic hospital nurse vaccine symptom fever
		infection diagnosis surgery therapy prescription dose tablet blood pressure heart
		lungs kidney diabetes allergy immune virus bacteria cough recovery ward
		physician cholesterol injection scan`),
}

var topicWordsZH = map[string][]string{
	"sport":     strings.Fields(`比赛 进球 前锋 裁判 联赛 赛季 教练 守门员 点球 球场 锦标赛 冠军 中场 后卫 短跑 马拉松 网球 篮球 运动员 奖牌 奥运 接力 跨栏 越位 球迷`),
	"cooking":   strings.Fields(`菜谱 烤箱 炖煮 大蒜 洋葱 面粉 黄油 揉面 面团 烘焙 炒锅 胡椒 食盐 陈醋 高汤 面条 饺子 腌制 烧烤 调味 焦糖 酵母 切丁 汤匙 蒸笼`),
	"finance":   strings.Fields(`股票 股息 债券 收益率 通胀 利率 贷款 按揭 股权 投资组合 券商 指数 财报 营收 季度 赤字 预算 税收 货币 汇率 对冲 基金 投资者 审计 流动性`),
	"computing": strings.Fields(`软件 编译器 内核 服务器 数据库 查询 网络 路由器 协议 加密 密码 浏览器 缓存 内存 处理器 线程 漏洞 调试 部署 容器 集群 延迟 带宽 算法 代码库`),
	"health":    strings.Fields(`医生 病人 诊所 医院 护士 疫苗 症状 发烧 感染 诊断 手术 治疗 处方 剂量 药片 血压 心脏 肺部 肾脏 糖尿病 过敏 免疫 病毒 细菌 咳嗽`),
}

// sharedWords belong to two topics each: they make topics overlap the way
// "record", "market" or "cell" do in real text.
var sharedWords = map[string][]string{
	"sport":     {"team", "record", "score", "training", "fitness", "plan"},
	"cooking":   {"market", "plate", "fresh", "healthy", "diet", "heat"},
	"finance":   {"market", "rate", "growth", "record", "plan", "balance"},
	"computing": {"team", "score", "training", "model", "balance", "cell"},
	"health":    {"diet", "fitness", "healthy", "rate", "growth", "cell"},
}

var functionWords = strings.Fields(`the a an of to in on for with and but or as at by from is was
	are were be been it this that these those we they you he she our their its very more most
	after before during about over under again then also just only not no so`)

var functionWordsZH = strings.Fields(`的 了 在 是 和 也 都 很 就 还 又 把 被 让 从 对 为 这 那 我们 他们 今天 已经 可以 因为 所以 但是`)

// topicDoc writes one document of topic t, in Chinese when zh.
func topicDoc(rng *rand.Rand, t int, zh bool) string {
	name := topicNames[t]
	n := 10 + rng.IntN(20)
	var words []string
	for i := 0; i < n; i++ {
		u := rng.Float64()
		var w string
		switch {
		case u < 0.30:
			if zh {
				w = pick(rng, topicWordsZH[name])
			} else {
				w = pick(rng, topicWords[name])
			}
		case u < 0.40 && !zh:
			w = pick(rng, sharedWords[name])
		case u < 0.50:
			// A word of another topic: documents stray.
			other := topicNames[(t+1+rng.IntN(len(topicNames)-1))%len(topicNames)]
			if zh {
				w = pick(rng, topicWordsZH[other])
			} else {
				w = pick(rng, topicWords[other])
			}
		default:
			if zh {
				w = pick(rng, functionWordsZH)
			} else {
				w = pick(rng, functionWords)
			}
		}
		if !zh && len(w) > 4 && rng.Float64() < 0.08 {
			w = typo(rng, w)
		}
		words = append(words, w)
	}
	if zh {
		var b strings.Builder
		for i, w := range words {
			b.WriteString(w)
			if i%7 == 6 {
				b.WriteString("，")
			}
		}
		b.WriteString("。")
		return b.String()
	}
	words[0] = strings.ToUpper(words[0][:1]) + words[0][1:]
	return strings.Join(words, " ") + "."
}

func pick(rng *rand.Rand, ws []string) string { return ws[rng.IntN(len(ws))] }

// typo swaps two neighbouring letters or drops one.
func typo(rng *rand.Rand, w string) string {
	b := []byte(w)
	i := 1 + rng.IntN(len(b)-2)
	if rng.IntN(2) == 0 {
		b[i], b[i+1] = b[i+1], b[i]
		return string(b)
	}
	return string(append(b[:i], b[i+1:]...))
}

// textSet writes perTopic documents of every topic, a third of them in
// Chinese.
func textSet(seed uint64, perTopic int) ([]string, []int) {
	rng := rand.New(rand.NewPCG(seed, 4))
	var docs []string
	var ys []int
	for i := 0; i < perTopic; i++ {
		for t := range topicNames {
			docs = append(docs, topicDoc(rng, t, rng.IntN(3) == 0))
			ys = append(ys, t)
		}
	}
	return docs, ys
}
