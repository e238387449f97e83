/// `GET /`: a self-contained page (no external assets) to try the model by hand: paste a title, ASR and
/// OCR text, drop a few JPEG frames (for models trained on raw frames; sent as a multipart form), see the
/// top categories as bars. Links to the model card (`/model`).
enum WebPage {
    static let html = #"""
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><title>vidtag</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>
      body { font: 15px/1.4 system-ui, sans-serif; max-width: 760px; margin: 2em auto; padding: 0 1em; color: #222; }
      h1 { font-size: 1.3em; } label { display: block; margin-top: .8em; font-weight: 600; }
      input[type=text], textarea { width: 100%; box-sizing: border-box; font: inherit; padding: .3em; }
      button { margin-top: 1em; font: inherit; padding: .4em 1.2em; }
      .bar { background: #4a7bd0; height: 1em; display: inline-block; vertical-align: middle; }
      .row { display: grid; grid-template-columns: 6em 1fr 5em; gap: .5em; align-items: center; margin: .15em 0; }
      #error { color: #b00; white-space: pre-wrap; } #model { color: #666; } .hint { color: #666; font-weight: 400; }
    </style></head>
    <body>
    <h1>vidtag: classify a video</h1>
    <div id="model">loading the model…</div>
    <form id="form">
      <label for="title">Title</label><input type="text" id="title" name="title">
      <label for="asr">Speech transcript (ASR)</label><textarea id="asr" name="asr" rows="3"></textarea>
      <label for="ocr">On-screen text (OCR), one line per moment</label><textarea id="ocr" name="ocr" rows="3"></textarea>
      <label for="frames">Frames <span class="hint" id="frameHint">(JPEG, in time order)</span></label>
      <input type="file" id="frames" accept="image/jpeg" multiple>
      <button type="submit" id="submit">Classify</button>
    </form>
    <div id="error"></div>
    <h2 id="level2Title" hidden>Categories</h2><div id="level2"></div>
    <h2 id="level1Title" hidden>Groups</h2><div id="level1"></div>
    <div id="took"></div>
    <script>
    let takesJPEG = false;
    fetch('/v1/model').then(r => r.json()).then(m => {
      if (m.error) { document.getElementById('model').textContent = 'model: ' + m.error.message; return; }
      takesJPEG = m.frames === 'jpeg';
      document.getElementById('model').textContent = `model ${m.name} (${m.architecture}, version ${m.version}), ${m.level2_ids.length} categories — `;
      const card = document.createElement('a'); card.href = '/model'; card.id = 'cardLink'; card.textContent = 'model card';
      document.getElementById('model').appendChild(card);
      if (!takesJPEG) { document.getElementById('frames').disabled = true;
        document.getElementById('frameHint').textContent = '(this model takes frame features; send them through the API)'; }
    });
    function bars(element, entries) {
      element.innerHTML = '';
      for (const entry of entries) {
        const row = document.createElement('div'); row.className = 'row';
        row.innerHTML = `<span class="id"></span><span><span class="bar"></span></span><span class="p"></span>`;
        row.querySelector('.id').textContent = entry.category_id;
        row.querySelector('.bar').style.width = (100 * entry.probability).toFixed(1) + '%';
        row.querySelector('.p').textContent = (100 * entry.probability).toFixed(1) + '%';
        element.appendChild(row);
      }
    }
    document.getElementById('form').addEventListener('submit', async event => {
      event.preventDefault();
      document.getElementById('error').textContent = '';
      const video = { title: document.getElementById('title').value, asr: document.getElementById('asr').value,
        ocr: document.getElementById('ocr').value.split('\n').filter(t => t.trim()).map((text, time) => ({ time, text })), top_k: 5 };
      const files = document.getElementById('frames').files;
      let request = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(video) };
      if (takesJPEG && files.length) {  // a multipart form: the video's JSON, then one part per frame in order
        const form = new FormData();
        form.append('video', new Blob([JSON.stringify(video)], { type: 'application/json' }));
        for (const file of files) form.append('frames', file);
        request = { method: 'POST', body: form };
      }
      const response = await fetch('/v1/classify', request);
      const answer = await response.json();
      if (answer.error) { document.getElementById('error').textContent = (answer.error.field ? answer.error.field + ': ' : '') + answer.error.message; return; }
      const prediction = answer.predictions[0];
      document.getElementById('level2Title').hidden = false; document.getElementById('level1Title').hidden = false;
      bars(document.getElementById('level2'), prediction.level2);
      bars(document.getElementById('level1'), prediction.level1);
      document.getElementById('took').textContent = `${answer.took_ms.toFixed(1)} ms`;
    });
    </script>
    </body></html>
    """#
}
