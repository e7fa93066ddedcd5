// Safe Markdown for the basic catalog's Text component.
//
// The A2UI v0.9 basic catalog says Text carries "simple Markdown": no HTML, no images, no links.
// The official @a2ui/markdown-it renderer turns Markdown into HTML and sanitises it with
// DOMPurify, but it keeps <a> and <img>. We render with markdown-it (raw HTML off, so
// "<script>" in the text stays text) and then sanitise with an allowlist that has neither links
// nor images: DOMPurify keeps their text content, so "[x](javascript:...)" renders as plain "x"
// and no URL from the agent ever becomes a live link (conformance point 12: URLs are untrusted).
import MarkdownIt from 'markdown-it';
import DOMPurify from 'dompurify';

const md = new MarkdownIt({ html: false, linkify: false, typographer: false });

const ALLOWED_TAGS = [
  'p', 'br', 'strong', 'em', 'del', 's', 'code', 'pre', 'blockquote',
  'ul', 'ol', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr',
];

// An instance of our own, configured once: passing the config to every sanitize() call makes
// DOMPurify re-parse it each time.
const purify = DOMPurify(window);
purify.setConfig({ ALLOWED_TAGS, ALLOWED_ATTR: ['class'], KEEP_CONTENT: true });

// Plain text: most agent strings (names, dates, prices, "Holding 2 seats.", a countdown) have
// no character that Markdown or HTML gives a meaning to, and do not start like a block (list,
// heading, quote, code). For those, markdown-it + DOMPurify always give `<p>text</p>\n`; a live
// value that changes every second (or on every seat change) then costs no parse and no sanitise
// (which builds a document each time). Anything else takes the full path. Browser tests check
// that both paths agree on such strings.
const PLAIN = /^[\p{L}\p{N}](?:[\p{L}\p{M}\p{N} ,.;:!?'’()/%€$£+=@·…–—-]*[\p{L}\p{M}\p{N}.,;:!?'’)%€$£…])?$/u;
const BLOCK_START = /^\d{1,9}[.)]/; // "1. " or "1) " would start an ordered list

export function isPlainText(text) {
  return text.length <= 2000 && PLAIN.test(text) && !BLOCK_START.test(text);
}

/** The full path: markdown-it, then DOMPurify with the allowlist. */
export function renderMarkdownFull(value) {
  return purify.sanitize(md.render(String(value ?? '')));
}

/** Render `value` to sanitised HTML; the renderer contract is (value, options) => Promise<string>. */
export async function renderSafeMarkdown(value) {
  const text = String(value ?? '');
  if (isPlainText(text)) return `<p>${text}</p>\n`;
  return renderMarkdownFull(text);
}
