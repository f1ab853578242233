package scraper

import (
	"bytes"
	"io"

	"golang.org/x/net/html"
)

// tokens is the token stream of one page. html.Tokenizer reads its input through an io.Reader,
// byte by byte, copies it into its own buffer and allocates for every attribute: it was the
// largest part of the scraper's CPU. Yet nearly all of a page is text and plain tags, which
// tokens reads in place, in the page's bytes, with the tokenizer's own rules (readTag, the same
// spans, the same attributes kept). Whatever else comes (a comment, a doctype, a raw-text element
// like <script> or <title>, an attribute value holding an entity, a CR or a NUL, a tag cut by the
// end of the page) is read by a fresh html.Tokenizer from that token on: its state between two tokens
// is none but the raw-text element it is in, so it reads that token as the page's tokenizer would
// have, and tokens takes over again at the next token the tokenizer ends outside a raw-text
// element. TestFastTokensAsTheTokenizer compares both ways over the corpus and the fixtures.
type tokens struct {
	body       []byte
	page       string // body as a string: the attributes' values are parts of it
	start, end int    // the current token's span in body
	tt         html.TokenType
	err        error

	z      *html.Tokenizer // the current token is the tokenizer's
	zStart int             // where z started in body
	zRead  int             // bytes of body z returned as tokens
	stay   bool            // z must read the next token too (inside a raw-text element, or done)
	always bool            // the tokenizer reads the whole page (the reference the tests compare with)

	attrs              []attrSpan // a start tag's attributes, as the tokenizer keeps them
	nameStart, nameEnd int        // a tag's name in body
}

// attrSpan is one attribute of a tag: its key and value in body.
type attrSpan struct{ k0, k1, v0, v1 int }

func newTokens(body []byte, page string, always bool) *tokens {
	t := &tokens{body: body, page: page, always: always}
	if always {
		t.z, t.stay = html.NewTokenizer(bytes.NewReader(body)), true
	}
	return t
}

// Next reads the next token.
func (t *tokens) Next() html.TokenType {
	t.start = t.end
	if t.z != nil && t.stay {
		return t.fromTokenizer()
	}
	t.z = nil
	if t.start >= len(t.body) {
		t.tt, t.err = html.ErrorToken, io.EOF
		return t.tt
	}
	tt, end, ok := t.scan(t.start)
	if !ok {
		t.z, t.zStart, t.zRead = html.NewTokenizer(bytes.NewReader(t.body[t.start:])), t.start, 0
		return t.fromTokenizer()
	}
	t.tt, t.end = tt, end
	return tt
}

func (t *tokens) fromTokenizer() html.TokenType {
	t.tt = t.z.Next()
	t.zRead += len(t.z.Raw())
	t.end = t.zStart + t.zRead
	switch t.tt {
	case html.ErrorToken:
		t.err, t.stay = t.z.Err(), true
	case html.StartTagToken, html.SelfClosingTagToken:
		name, _ := t.z.TagName()
		t.stay = t.always || rawTextElement(name)
	default:
		t.stay = t.always
	}
	return t.tt
}

// Err is the error of an ErrorToken: io.EOF at the end of the page.
func (t *tokens) Err() error { return t.err }

// Raw is the current token's bytes.
func (t *tokens) Raw() []byte { return t.body[t.start:t.end] }

// Text is the text of a text token, as the tokenizer's Text: newlines converted, entities
// unescaped.
func (t *tokens) Text() []byte {
	if t.z != nil {
		return t.z.Text()
	}
	s := t.body[t.start:t.end]
	if bytes.IndexByte(s, '\r') < 0 && bytes.IndexByte(s, '&') < 0 {
		return s
	}
	// Both change the bytes in place: on a copy, the page's bytes are the cells' HTML.
	return []byte(html.UnescapeString(string(convertNewlines(bytes.Clone(s)))))
}

// readAttrs fills a with the attributes of the current start tag the parser reads.
func (t *tokens) readAttrs(a *tagAttrs, li bool) {
	if t.z != nil {
		readAttrs(t.z, a, li)
		return
	}
	*a = tagAttrs{}
	for _, s := range t.attrs {
		k, v := t.body[s.k0:s.k1], t.page[s.v0:s.v1]
		switch {
		case asciiFold(k, "id"):
			a.id = v
		case asciiFold(k, "class"):
			if li {
				a.rawClass = t.body[s.v0:s.v1]
			} else {
				a.class = v
			}
		case asciiFold(k, "href"):
			a.href = v
		case asciiFold(k, "style"):
			a.style = v
		case asciiFold(k, "colspan"):
			a.colspan = v
		}
	}
}

// scan reads the token at i in place: text, a start tag or an end tag. ok is false for anything
// else, which the tokenizer reads.
func (t *tokens) scan(i int) (tt html.TokenType, end int, ok bool) {
	b := t.body
	if end = textEnd(b, i); end > i {
		return html.TextToken, end, true
	}
	switch {
	case isLetter(b[i+1]):
		t.nameStart = i + 1
		end, ok = t.readTag(i+2, true)
		if !ok || rawTextElement(b[i+1:t.nameEnd]) || !t.plainAttrs() {
			return 0, 0, false
		}
		// As the tokenizer: "/>" ends a self-closing tag unless the "/" is the end of the last
		// attribute's unquoted value (<p a=/>).
		if n := len(t.attrs); b[end-2] == '/' && (n == 0 || end-2 != t.attrs[n-1].v1-1) {
			return html.SelfClosingTagToken, end, true
		}
		return html.StartTagToken, end, true
	case b[i+1] == '/' && i+2 < len(b) && isLetter(b[i+2]):
		t.nameStart = i + 2
		end, ok = t.readTag(i+3, false)
		return html.EndTagToken, end, ok
	}
	return 0, 0, false
}

// textEnd is where the text from i ends, as for the tokenizer: at the end of the page or at a
// "<" followed by a letter, "/", "!" or "?" (i itself when the token at i is not text).
func textEnd(b []byte, i int) int {
	for j := i; ; {
		k := bytes.IndexByte(b[j:], '<')
		if k < 0 {
			return len(b)
		}
		k += j
		if k+1 >= len(b) {
			return len(b)
		}
		if c := b[k+1]; isLetter(c) || c == '/' || c == '!' || c == '?' {
			return k
		}
		j = k + 1 // "<" and something else: text, as for the tokenizer
	}
}

// plainAttrs reports whether the attributes the parser reads hold their value as written: no
// entity, carriage return or NUL to convert as the tokenizer would.
func (t *tokens) plainAttrs() bool {
	for _, s := range t.attrs {
		for _, c := range t.body[s.v0:s.v1] {
			if c == '&' || c == '\r' || c == 0 {
				return false
			}
		}
	}
	return true
}

// readTag reads a tag from p, the byte after its name's first letter, to its ">", as the
// tokenizer's readTag: the name's end in t.nameEnd and, if save, the attributes in t.attrs (the
// first of each key, keys of any case). ok is false if the page ends inside the tag.
func (t *tokens) readTag(p int, save bool) (end int, ok bool) {
	b := t.body
	t.attrs = t.attrs[:0]
	for ; ; p++ { // the name
		if p >= len(b) {
			return 0, false
		}
		if c := b[p]; isSpace(c) || c == '/' || c == '>' {
			break
		}
	}
	t.nameEnd = p
	if isSpace(b[p]) {
		p++
	}
	if p = skipSpace(b, p); p >= len(b) {
		return 0, false
	}
	for b[p] != '>' {
		var a attrSpan
		if a, p, ok = t.readAttr(p); !ok {
			return 0, false
		}
		if save && a.k0 != a.k1 && !t.seen(a) {
			t.attrs = append(t.attrs, a)
		}
		if p = skipSpace(b, p); p >= len(b) {
			return 0, false
		}
	}
	return p + 1, true
}

// readAttr reads one attribute from p, as the tokenizer's readTagAttrKey and readTagAttrVal.
func (t *tokens) readAttr(p int) (a attrSpan, next int, ok bool) {
	b := t.body
	a.k0 = p
	for ; ; p++ {
		if p >= len(b) {
			return a, 0, false
		}
		c := b[p]
		if c == '=' && p == a.k0 { // an "=" first is part of the name
			continue
		}
		if c == '=' || isSpace(c) || c == '/' || c == '>' {
			break
		}
	}
	a.k1, a.v0, a.v1 = p, p, p
	if p = skipSpace(b, p); p >= len(b) {
		return a, 0, false
	}
	switch b[p] {
	case '/':
		return a, p + 1, true
	case '=':
	default:
		return a, p, true
	}
	if p = skipSpace(b, p+1); p >= len(b) {
		return a, 0, false
	}
	return t.readValue(a, p)
}

// readValue reads an attribute's value from p, just after its "=" and the spaces after it.
func (t *tokens) readValue(a attrSpan, p int) (attrSpan, int, bool) {
	b := t.body
	switch q := b[p]; q {
	case '>':
		return a, p, true
	case '\'', '"':
		k := bytes.IndexByte(b[p+1:], q)
		if k < 0 {
			return a, 0, false
		}
		a.v0, a.v1 = p+1, p+1+k
		return a, a.v1 + 1, true
	}
	a.v0 = p
	for p++; ; p++ {
		if p >= len(b) {
			return a, 0, false
		}
		if c := b[p]; isSpace(c) {
			a.v1 = p
			return a, p + 1, true
		} else if c == '>' {
			a.v1 = p
			return a, p, true
		}
	}
}

// seen reports whether the tag has an attribute of the same key already: the tokenizer keeps the
// first one only (keys compared lower-cased, ASCII only).
func (t *tokens) seen(a attrSpan) bool {
	k := t.body[a.k0:a.k1]
	for _, s := range t.attrs {
		if asciiFoldBytes(t.body[s.k0:s.k1], k) {
			return true
		}
	}
	return false
}

func skipSpace(b []byte, p int) int {
	for p < len(b) && isSpace(b[p]) {
		p++
	}
	return p
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\n', '\r', '\t', '\f':
		return true
	}
	return false
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// asciiFold reports whether b is s (lower case) with ASCII letters of any case.
func asciiFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lowerASCII(b[i]) != s[i] {
			return false
		}
	}
	return true
}

func asciiFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// rawTextElement reports whether a start tag of this name makes the tokenizer read what follows
// as raw text, up to its end tag.
func rawTextElement(name []byte) bool {
	for _, s := range [...]string{"iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style",
		"textarea", "title", "xmp"} {
		if asciiFold(name, s) {
			return true
		}
	}
	return false
}

// convertNewlines converts "\r\n" and "\r" to "\n" in place, as the tokenizer does in a text.
func convertNewlines(s []byte) []byte {
	out := s[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' {
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			c = '\n'
		}
		out = append(out, c)
	}
	return out
}

// plainName is the current tag's name when it is a part of the page as it is (lower case, no
// NUL), without a copy; "" otherwise (tagName reads it).
func (t *tokens) plainName() string {
	if t.z != nil {
		return ""
	}
	for _, c := range t.body[t.nameStart:t.nameEnd] {
		if 'A' <= c && c <= 'Z' || c == 0 {
			return ""
		}
	}
	return t.page[t.nameStart:t.nameEnd]
}
