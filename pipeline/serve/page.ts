/** The page `starword serve` shows: one HTML file, CSS and script inline (no CDN: it runs offline). */

const CSS = `
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:10px 20px}header h1{margin:0;font-size:19px}
main{display:flex;gap:20px;padding:16px 20px;flex-wrap:wrap}
.panel{background:#fff;border:1px solid #ddd;border-radius:4px;padding:12px}
#left{width:420px}#right{flex:1;min-width:420px}
#gallery{display:flex;flex-wrap:wrap;gap:4px;max-height:330px;overflow:auto;margin:6px 0}
#gallery img{width:60px;height:60px;object-fit:contain;border:2px solid transparent;cursor:pointer;background:#eee}
#gallery img.sel{border-color:#1565c0}
#reference img{width:128px;height:128px;object-fit:contain;background:#eee}
label{display:block;margin:8px 0 3px;font-weight:600;font-size:13px}
input[type=text],select{font-size:14px;padding:4px 6px;width:100%;box-sizing:border-box}
button{font-size:14px;padding:6px 14px;margin-top:10px;cursor:pointer}
#message{color:#c62828;font-weight:600;min-height:1.2em;margin-top:8px}
#progress{width:100%;height:14px;margin-top:8px;display:none}
#results{display:flex;flex-wrap:wrap;gap:8px}
.result{width:140px;font-size:12px;text-align:center}.result img{width:128px;height:128px;object-fit:contain;background:#eee}
.note{color:#666;font-size:12px}
`;

const SCRIPT = `
var state={ref:null,refLabel:'',offset:0,info:null};
function $(id){return document.getElementById(id)}
function h(s){return String(s).replace(/[&<>"']/g,function(c){return '&#'+c.charCodeAt(0)+';'})}
function msg(t){$('message').textContent=t||''}
function imgUrl(id,size){return '/image/'+encodeURIComponent(id)+'?size='+(size||128)}
function pick(id){
  state.ref={gallery:id};$('reference').innerHTML='<img alt="reference" src="'+imgUrl(id,160)+'"><div id="reference-id">'+h(id)+'</div>';
  document.querySelectorAll('#gallery img').forEach(function(el){el.classList.toggle('sel',el.getAttribute('data-id')===id)});msg('');
}
function more(){
  fetch('/api/gallery?offset='+state.offset+'&limit=60').then(function(r){return r.json()}).then(function(g){
    g.ids.forEach(function(id){var im=document.createElement('img');im.src=imgUrl(id,64);im.alt=id;im.title=id;im.setAttribute('data-id',id);
      im.addEventListener('click',function(){pick(id)});$('gallery').appendChild(im)});
    state.offset+=g.ids.length;$('more').style.display=state.offset<g.total?'':'none';
  });
}
function upload(file){
  msg('');if(!file)return;
  if(state.info&&file.size>state.info.maxUploadBytes){msg('the upload is too large: '+(file.size/1048576).toFixed(1)+' MB, the limit is '+(state.info.maxUploadBytes/1048576).toFixed(0)+' MB');return}
  fetch('/api/upload',{method:'POST',body:file,headers:{'content-type':'application/octet-stream'}}).then(function(r){return r.json().then(function(b){return {ok:r.ok,b:b}})})
  .then(function(x){
    if(!x.ok){msg(x.b.error||'upload failed');return}
    state.ref={upload:x.b.upload};var url=URL.createObjectURL(file);
    $('reference').innerHTML='<img alt="reference" src="'+url+'"><div id="reference-id">uploaded: '+h(file.name)+'</div>';
    document.querySelectorAll('#gallery img.sel').forEach(function(el){el.classList.remove('sel')});
  }).catch(function(e){msg('upload failed: '+e)});
}
function show(results){
  $('results').innerHTML='';
  results.forEach(function(r){var d=document.createElement('div');d.className='result';d.setAttribute('data-id',r.id);d.setAttribute('data-score',String(r.score));
    d.innerHTML='<img alt="" src="'+imgUrl(r.id,128)+'"><div>#'+r.rank+' '+h(r.id)+'</div><div>'+r.score.toFixed(4)+'</div>';
    $('results').appendChild(d)});
  $('status').textContent=results.length+' results';
}
function run(){
  msg('');if(!state.ref){msg('pick a reference image (from the gallery, or upload one)');return}
  var body={reference:state.ref,caption:$('caption').value,method:$('method').value,k:Number($('k').value)||10};
  $('run').disabled=true;$('status').textContent='running…';var bar=$('progress');bar.value=0;bar.style.display=body.method==='searle-oti'?'block':'none';
  fetch('/api/query',{method:'POST',body:JSON.stringify(body),headers:{'content-type':'application/json'}}).then(function(r){return r.json().then(function(b){return {ok:r.ok,b:b}})})
  .then(function(x){
    if(!x.ok){throw new Error(x.b.error)}
    var job=x.b.job;
    (function poll(){fetch('/api/job/'+job).then(function(r){return r.json()}).then(function(j){
      if(j.steps){bar.max=j.steps;bar.value=j.step;$('status').textContent='OTI step '+j.step+' of '+j.steps}
      if(j.status==='running'){setTimeout(poll,120);return}
      $('run').disabled=false;bar.style.display='none';
      if(j.status==='error'){msg(j.error);$('status').textContent='';return}
      show(j.results);
    })})();
  }).catch(function(e){$('run').disabled=false;bar.style.display='none';$('status').textContent='';msg(e.message||String(e))});
}
fetch('/api/info').then(function(r){return r.json()}).then(function(info){
  state.info=info;
  info.methods.forEach(function(m){var o=document.createElement('option');o.value=m.name;o.textContent=m.label;$('method').appendChild(o)});
  $('gallery-size').textContent=String(info.gallery);$('oti-steps').textContent=String(info.otiSteps);$('limit').textContent=(info.maxUploadBytes/1048576).toFixed(0);
  more();
});
$('more').addEventListener('click',more);$('run').addEventListener('click',run);
$('upload').addEventListener('change',function(e){upload(e.target.files[0])});
$('caption').addEventListener('keydown',function(e){if(e.key==='Enter')run()});
`;

export function servePage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>starword: composed image retrieval</title><style>${CSS}</style></head>
<body><header><h1>starword: composed image retrieval</h1></header>
<main>
<div id="left" class="panel">
  <label>Reference: pick one of the <span id="gallery-size">…</span> gallery images, or upload one (at most <span id="limit">…</span> MB)</label>
  <div id="gallery"></div><button id="more" type="button">more</button>
  <input id="upload" type="file" accept="image/*">
  <div id="reference" style="margin-top:8px"><span class="note">no reference yet</span></div>
  <label for="caption">Relative caption</label><input id="caption" type="text" placeholder="e.g. is red">
  <label for="method">Method</label><select id="method"></select>
  <div class="note">SEARLE-OTI optimises a token for the reference now (<span id="oti-steps">…</span> steps, L_cos only: an arbitrary image has no phrases here).</div>
  <label for="k">Top K</label><input id="k" type="text" value="10">
  <button id="run" type="button">Search</button>
  <progress id="progress" value="0" max="1"></progress>
  <div id="message" role="alert"></div>
</div>
<div id="right" class="panel"><div id="status" class="note"></div><div id="results"></div></div>
</main><script>${SCRIPT}</script></body></html>
`;
}
