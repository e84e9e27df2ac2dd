package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/acube/platform/libs/browsertest"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/tools/internal/chaos"
	"github.com/acube/platform/tools/internal/stack"
)

// The pages people open from our emails (docs/pages.md), as they meet
// them: a real email in a real Mailpit, its link opened in Debian's
// headless Chromium, the buttons clicked, the next email awaited.
// UPDATE_SCREENSHOTS=1 saves the pages into docs/screenshots.

// pagesStack is the whole stack with the mailer sending to Mailpit, and
// where the emailed links lead.
type pagesStack struct {
	*system
	mail *chaos.Mailpit
	root string
}

// startPages starts every service, Mailpit, and restarts the mailer to
// send there.
func startPages(t *testing.T) *pagesStack {
	t.Helper()
	sys := start(t, stack.Services()...)
	root := stack.TestRoot(t)
	bin := filepath.Join(root, "bin", "mailpit")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Mailpit at %s: run make build", bin)
	}
	smtpPort, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	uiPort, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := stack.NewOutput(testWriter{t})
	mp, mail, err := chaos.StartMailpit(ctx, bin, t.TempDir(), smtpPort, uiPort, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mp.Stop(10 * time.Second) })

	// The links lead through the gateway, which routes the pages (its
	// table is generated from the OpenAPI document).
	if _, err := sys.run.Restart(ctx, "mailer", "SMTP_HOST=127.0.0.1",
		"SMTP_PORT="+strings.TrimPrefix(stack.Addr(smtpPort), "127.0.0.1:"), "PUBLIC_BASE_URL="+sys.gateway); err != nil {
		t.Fatal(err)
	}
	return &pagesStack{system: sys, mail: mail, root: root}
}

// link waits for an email to addr whose text holds a link matching re
// and returns the link, as Mailpit received it.
func (s *pagesStack) link(t *testing.T, addr string, re *regexp.Regexp) string {
	t.Helper()
	var link string
	testkit.EventuallyErr(t, fmt.Sprintf("an email to %s with a link like %s", addr, re), func() error {
		texts, err := s.mail.Texts(context.Background(), addr)
		if err != nil {
			return err
		}
		for _, text := range texts {
			if link = re.FindString(text); link != "" {
				return nil
			}
		}
		return fmt.Errorf("emails so far: %q", texts)
	}, testkit.Interval(100*time.Millisecond))
	return link
}

// awaitEmail waits for an email to addr whose text contains want.
func (s *pagesStack) awaitEmail(t *testing.T, addr, want string) {
	t.Helper()
	testkit.EventuallyErr(t, fmt.Sprintf("an email to %s saying %q", addr, want), func() error {
		texts, err := s.mail.Texts(context.Background(), addr)
		if err != nil {
			return err
		}
		for _, text := range texts {
			if strings.Contains(text, want) {
				return nil
			}
		}
		return fmt.Errorf("emails so far: %q", texts)
	}, testkit.Interval(100*time.Millisecond))
}

// browser is one headless Chromium tab.
type browser struct {
	t    *testing.T
	ctx  context.Context
	shot string // where screenshots go; empty saves none
	// problems collects console messages and exceptions: a page that
	// ran (or tried to run) script shows up here.
	problems chan string
}

func newBrowser(t *testing.T, root string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(browsertest.Find(t)), chromedp.UserDataDir(t.TempDir())}
	for _, f := range browsertest.Flags() {
		name, value, ok := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if ok {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	b := &browser{t: t, problems: make(chan string, 100)}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			msg = "console." + string(e.Type)
		case *runtime.EventExceptionThrown:
			msg = "exception: " + e.ExceptionDetails.Text
		}
		if msg != "" {
			select {
			case b.problems <- msg:
			default:
			}
		}
	}))
	t.Cleanup(cancel)
	b.ctx = ctx
	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		b.shot = filepath.Join(root, "docs", "screenshots")
	}
	if err := chromedp.Do(ctx); err != nil { // start the browser, without a timeout (see chromedp.Run)
		t.Fatal(err)
	}
	return b
}

// do runs steps, each page action bounded by a minute.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression through DevTools (not by the
// page, which runs none).
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is the trimmed text of the first node matching the CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// check looks at the page on a desktop and a phone-sized viewport: the
// stylesheet applied (its CSP hash matched), no script in the page, one
// h1, no horizontal overflow at 390×844; and saves both screenshots as
// name-desktop.png and name-phone.png when asked to.
func (b *browser) check(name string) {
	b.t.Helper()
	b.do(chromedp.EmulateViewport(1280, 800))
	if bg := eval[string](b, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(244, 245, 247)" {
		b.t.Errorf("%s: the stylesheet did not apply (body background %q): CSP hash mismatch?", name, bg)
	}
	if n := eval[int](b, `document.scripts.length + document.querySelectorAll('[onclick],[onload],[onsubmit]').length`); n != 0 {
		b.t.Errorf("%s: %d scripts or handlers in the page", name, n)
	}
	if n := eval[int](b, `document.querySelectorAll('h1').length`); n != 1 {
		b.t.Errorf("%s: %d h1, want 1", name, n)
	}
	b.screenshot(name + "-desktop")
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	overflow := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth ||
		[...document.querySelectorAll('body *')].some(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)`)
	if overflow {
		b.t.Errorf("%s: content overflows a 390 px wide viewport", name)
	}
	b.screenshot(name + "-phone")
	b.do(chromedp.EmulateViewport(1280, 800))
	select {
	case p := <-b.problems:
		b.t.Errorf("%s: the page produced %s", name, p)
	default:
	}
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	if b.shot == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// submit clicks the element matching the CSS selector and waits for the
// page it leads to; it returns that page's status.
func (b *browser) submit(sel string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
	return resp.Status
}

// open navigates to link and returns the page's status.
func (b *browser) open(link string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(link))
	if err != nil {
		b.t.Fatalf("open %s: %v", link, err)
	}
	return resp.Status
}

func TestIntegrationPagesInHeadlessChromium(t *testing.T) {
	s := startPages(t)
	b := newBrowser(t, s.root)
	client := newPerson(t, s.gateway, "127.0.0.1")

	t.Run("booking", func(t *testing.T) {
		b.t = t
		const addr = "pages-booker@example.com"
		booked := s.book(t, addr)
		link := s.link(t, addr, regexp.MustCompile(`https?://\S+/manage/sessions/`+booked.ID+`\?token=\S+`))
		if st := b.open(link); st != http.StatusOK {
			t.Fatalf("the emailed link answers %d", st)
		}
		if h := b.text("h1"); h != "Your booking" {
			t.Fatalf("manage page h1 %q", h)
		}
		b.check("manage")
		b.submit("a.button.danger")
		if h := b.text("h1"); h != "Cancel your booking?" {
			t.Fatalf("confirmation h1 %q", h)
		}
		b.check("confirm")
		b.do(chromedp.SendKeys(chromedp.CSS("#reason"), "Feeling better, thank you"))
		b.submit("button[type=submit]")
		if n := b.text(".notice"); !strings.Contains(n, "is cancelled") || !strings.Contains(n, "email") {
			t.Fatalf("result notice %q", n)
		}
		if st := b.text("dd.status"); st != "Cancelled" {
			t.Errorf("status %q after cancelling", st)
		}
		b.check("result")
		s.awaitEmail(t, addr, "cancelled")
	})

	access := adminToken(t, s.system, client)
	t.Run("registration", func(t *testing.T) {
		b.t = t
		const addr = "pages-registrant@example.com"
		starts := time.Now().UTC().AddDate(0, 0, 14).Truncate(time.Hour)
		ev := client.send("POST", "/api/events", `{"title":"Coping with stress","description":"An evening talk.","starts_at":"`+starts.Format(time.RFC3339)+
			`","ends_at":"`+starts.Add(2*time.Hour).Format(time.RFC3339)+`","location":"A-Cube Centre, Room 2","capacity":20}`, "Authorization", "Bearer "+access)
		id, _ := ev.members(t)["id"].(string)
		if ev.status != http.StatusCreated || id == "" {
			t.Fatalf("create event: %d %s", ev.status, ev.body)
		}
		reg := client.send("POST", "/api/events/"+id+"/register", `{"email":"`+addr+`","name":"Grace Hopper","phone":"0123456789"}`)
		if reg.status != http.StatusCreated {
			t.Fatalf("register: %d %s", reg.status, reg.body)
		}
		link := s.link(t, addr, regexp.MustCompile(`https?://\S+/manage/registrations/[0-9a-f-]+\?token=\S+`))
		if st := b.open(link); st != http.StatusOK {
			t.Fatalf("the emailed link answers %d", st)
		}
		if h := b.text("h1"); h != "Coping with stress" {
			t.Fatalf("registration page h1 %q", h)
		}
		b.check("registration")
		b.submit("a.button.danger")
		b.submit("button[type=submit]")
		if n := b.text(".notice"); !strings.Contains(n, "registration is cancelled") {
			t.Fatalf("result notice %q", n)
		}
		s.awaitEmail(t, addr, "cancelled")
	})

	t.Run("invitation", func(t *testing.T) {
		b.t = t
		const addr = "pages-invitee@example.com"
		r := client.send("POST", "/api/admin/admins", `{"email":"`+addr+`","name":"Invitee","role":"admin"}`, "Authorization", "Bearer "+access)
		if r.status != http.StatusCreated {
			t.Fatalf("invite: %d %s", r.status, r.body)
		}
		link := s.link(t, addr, regexp.MustCompile(`https?://\S+/admin/invitation\?token=\S+`))
		if st := b.open(link); st != http.StatusOK {
			t.Fatalf("the emailed link answers %d", st)
		}
		if h := b.text("h1"); h != "Choose your password" {
			t.Fatalf("invitation h1 %q", h)
		}
		b.check("invitation")
		// A breached password first: the form comes back, the error next
		// to the field.
		b.do(chromedp.SendKeys(chromedp.CSS("#password"), "password1234"), chromedp.SendKeys(chromedp.CSS("#confirm"), "password1234"))
		if st := b.submit("button[type=submit]"); st != http.StatusUnprocessableEntity {
			t.Errorf("breached password answered %d, want 422", st)
		}
		if e := b.text("#password-error"); !strings.Contains(e, "too common") {
			t.Fatalf("breached password error %q", e)
		}
		if kept := eval[string](b, `document.querySelector('#password').value`); kept != "" {
			t.Error("the form kept the password")
		}
		b.check("invitation-error")
		const password = "a long passphrase nobody guesses"
		b.do(chromedp.SendKeys(chromedp.CSS("#password"), password), chromedp.SendKeys(chromedp.CSS("#confirm"), password))
		b.submit("button[type=submit]")
		if h := b.text("h1"); h != "Your password is set" {
			t.Fatalf("after accepting, h1 %q", h)
		}
		b.check("invitation-done")
		login := client.send("POST", "/api/admin/auth/login", `{"email":"`+addr+`","password":"`+password+`"}`)
		if login.status != http.StatusOK {
			t.Fatalf("log in with the chosen password: %d %s", login.status, login.body)
		}
	})
}
