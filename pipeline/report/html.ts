/**
 * Small HTML building blocks for the static report: escaping, tables, a page shell with its CSS and
 * script inline (the report opens from the file system on machines without internet: nothing from a CDN).
 */

export function esc(s: unknown): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A number for a table cell: integers as they are, others with 4 significant digits. */
export function num(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(2);
  return Number(x.toPrecision(4)).toString();
}

/** A table; cells are HTML already (escape text with esc). `attrs` go on the <table>. */
export function table(head: readonly string[], rows: readonly (readonly string[])[], attrs = ''): string {
  const th = head.map((h) => `<th>${h}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table ${attrs}><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export interface Section { id: string; title: string; html: string }

const CSS = `
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:12px 20px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#cfd8dc;font-size:13px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:6px 20px;z-index:2}
nav a{margin-right:14px;color:#1565c0;text-decoration:none;font-size:14px}
main{padding:0 20px 40px}section{margin-top:24px}h2{border-bottom:2px solid #90a4ae;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px;background:#fff}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#eceff1}
td.n,th.n{text-align:right}
.note{color:#555;font-size:13px}.warn{background:#fff3e0;border-left:4px solid #fb8c00;padding:6px 10px;margin:4px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #ddd;border-radius:4px;padding:6px;width:190px;font-size:12px}
.card img,.thumb img{image-rendering:auto;display:block}
.card .id{font-weight:600;word-break:break-all;margin:4px 0}
.card ol{margin:0;padding-left:20px}.card .cg{display:grid;grid-template-columns:minmax(0,1fr) auto;column-gap:6px;align-items:start}
.card .cn{overflow-wrap:anywhere}.card .cs{color:#666}
.query{background:#fff;border:1px solid #ddd;border-radius:4px;padding:8px;margin:10px 0}
.query .cap{font-size:15px;margin:0 0 6px}.row{display:flex;align-items:flex-start;gap:4px;margin:3px 0}
.row .m{width:110px;font-size:12px;font-weight:600}.thumb{position:relative;font-size:10px;text-align:center;color:#555}
.thumb img{border:3px solid transparent}.thumb.gt img{border-color:#2e7d32}.thumb.gt::after{content:"✓";position:absolute;top:2px;right:4px;color:#fff;background:#2e7d32;border-radius:8px;padding:0 3px;font-size:11px}
.miss{color:#c62828;font-weight:600}.hit{color:#2e7d32;font-weight:600}
input[type=search]{font-size:14px;padding:4px 8px;width:320px}
details{margin:6px 0}pre{background:#fff;border:1px solid #ddd;padding:8px;overflow:auto;max-height:420px;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts svg{background:#fff;border:1px solid #ddd}
`;

// The search box filters concept cards by their data-search text (image id and concept names).
const SCRIPT = `
document.querySelectorAll('input[data-filter]').forEach(function(box){
  var target=document.getElementById(box.getAttribute('data-filter'));
  var count=document.getElementById(box.getAttribute('data-filter')+'-count');
  box.addEventListener('input',function(){
    var q=box.value.trim().toLowerCase(),shown=0;
    target.querySelectorAll('[data-search]').forEach(function(el){
      var ok=!q||el.getAttribute('data-search').indexOf(q)>=0;el.style.display=ok?'':'none';if(ok)shown++;
    });
    if(count)count.textContent=String(shown);
  });
});
`;

export function page(title: string, subtitle: string, sections: readonly Section[]): string {
  const nav = sections.map((s) => `<a href="#${s.id}">${esc(s.title)}</a>`).join('');
  const body = sections.map((s) => `<section id="${s.id}"><h2>${esc(s.title)}</h2>\n${s.html}\n</section>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><header><h1>${esc(title)}</h1><p>${esc(subtitle)}</p></header>
<nav>${nav}</nav><main>
${body}
</main><script>${SCRIPT}</script></body></html>
`;
}
