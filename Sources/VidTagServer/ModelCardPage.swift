/// `GET /model`: the served model's card as a self-contained page (no external assets), drawn from
/// `GET /v1/model`: the training settings, the held-out evaluations (the best marked), the best
/// evaluation's per-class F1 as bars for both levels, and the run's curves (`GET /model/curves.svg`).
enum ModelCardPage {
    static let html = #"""
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><title>vidtag model card</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>
      body { font: 15px/1.4 system-ui, sans-serif; max-width: 900px; margin: 2em auto; padding: 0 1em; color: #222; }
      h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
      table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
      td, th { padding: .15em .7em; text-align: right; border-bottom: 1px solid #eee; } td:first-child, th:first-child { text-align: left; }
      tr.best { background: #eef4ff; font-weight: 600; }
      .bar { background: #4a7bd0; height: .9em; display: inline-block; vertical-align: middle; }
      .row { display: grid; grid-template-columns: 6em 1fr 4em 4em; gap: .5em; align-items: center; margin: .1em 0; }
      .hint, #summary { color: #666; } #error { color: #b00; } img { max-width: 100%; }
    </style></head>
    <body>
    <p><a href="/">← classify a video</a></p>
    <h1 id="name">model card</h1>
    <div id="summary">loading…</div><div id="error"></div>
    <h2>Held-out scores</h2><div id="scores"></div>
    <h2>Per-class F1 of the best evaluation <span class="hint">(level 2, then level 1; support in the last column)</span></h2>
    <div id="level2"></div><h3>Level 1</h3><div id="level1"></div>
    <h2>Curves</h2><div id="curves"></div>
    <h2>Training settings <span class="hint" id="settingsFile"></span></h2><div id="settings"></div>
    <script>
    const $ = id => document.getElementById(id);
    const cell = (tag, text) => { const c = document.createElement(tag); c.textContent = text; return c; };
    function table(element, header, rows, mark) {
      const t = document.createElement('table'); const h = document.createElement('tr');
      header.forEach(x => h.appendChild(cell('th', x))); t.appendChild(h);
      rows.forEach((r, i) => { const tr = document.createElement('tr'); if (mark && mark(i)) tr.className = 'best';
        r.forEach(x => tr.appendChild(cell('td', x))); t.appendChild(tr); });
      element.replaceChildren(t);
    }
    function bars(element, classes) {
      element.replaceChildren();
      if (!classes || !classes.length) { element.textContent = 'no per-class report (best_report.json) in the run folder'; return; }
      for (const c of classes) {
        const row = document.createElement('div'); row.className = 'row f1';
        row.append(cell('span', c.label), document.createElement('span'), cell('span', c.f1.toFixed(3)), cell('span', c.support));
        const bar = document.createElement('span'); bar.className = 'bar'; bar.style.width = (100 * c.f1).toFixed(1) + '%';
        row.children[1].appendChild(bar); element.appendChild(row);
      }
    }
    const keys = ['score', 'level1_micro_f1', 'level1_macro_f1', 'level2_micro_f1', 'level2_macro_f1'];
    fetch('/v1/model').then(r => r.json()).then(m => {
      if (m.error) { $('error').textContent = m.error.message; return; }
      const card = m.card || { settings: [], evaluations: [] };
      $('name').textContent = `model card: ${m.name}`;
      $('summary').textContent = `${m.architecture}, version ${m.version}, frames as ${m.frames}, ` +
        `${m.level2_ids.length} categories in ${m.level1_ids.length} groups` +
        (card.held_out_fold != null ? `, fold ${card.held_out_fold} held out` : ', no fold held out');
      if (card.evaluations.length) {
        table($('scores'), ['step', 'epoch', ...keys], card.evaluations.map(e =>
          [e.step, e.epoch, ...keys.map(k => e.values[k] == null ? '' : e.values[k].toFixed(4))]),
          i => card.evaluations[i].step === card.best_step);
      } else { $('scores').textContent = 'no evaluations (metrics.jsonl) in the model folder'; }
      bars($('level2'), card.best_report && card.best_report.level2.classes);
      bars($('level1'), card.best_report && card.best_report.level1.classes);
      if (card.has_curves) { const img = document.createElement('img'); img.src = '/model/curves.svg'; img.alt = 'training curves';
        $('curves').appendChild(img); } else { $('curves').textContent = 'no curves.svg in the model folder'; }
      $('settingsFile').textContent = card.settings_file ? `(${card.settings_file})` : '';
      if (card.settings.length) table($('settings'), ['setting', 'value'], card.settings);
      else $('settings').textContent = 'no settings file in the model folder';
    }).catch(e => { $('error').textContent = String(e); });
    </script>
    </body></html>
    """#
}
