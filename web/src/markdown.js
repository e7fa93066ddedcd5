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

/** Render `value` to sanitised HTML; the renderer contract is (value, options) => Promise<string>. */
export async function renderSafeMarkdown(value, options) {
  const classMap = options?.tagClassMap;
  const html = md.render(String(value ?? ''), { tagClassMap: classMap });
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR: ['class'],
    KEEP_CONTENT: true,
  });
}
