// The workbench page: tabs, the live camera over a WebSocket, clip upload, runs, Spotify.
// Everything the server sends is shown with textContent, never as HTML.
'use strict';

const EMOTIONS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
const COLOURS = ['#d62728', '#8c564b', '#9467bd', '#2ca02c', '#1f77b4', '#ff7f0e', '#7f7f7f'];
const SEND_WIDTH = 320;          // frames are downscaled to this width before sending
const MIN_INTERVAL_MS = 100;     // at most 10 frames a second
const HISTORY = 120;             // frames in the timeline

const $ = (id) => document.getElementById(id);
const body = document.body;

function setText(el, text) { el.textContent = text; }
function bump(key, by) { body.dataset[key] = String(Number(body.dataset[key] || 0) + by); }

// ---- tabs ----
function showTab(name) {
  for (const s of document.querySelectorAll('section.tab')) s.hidden = s.id !== name;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.tab === name);
  if (name === 'runs') loadRuns();
  if (name === 'spotify') loadStatus();
}
window.addEventListener('hashchange', () => showTab(tabFromHash()));
function tabFromHash() {
  const t = location.hash.replace('#', '').split('-')[0];
  return ['live', 'clip', 'runs', 'spotify'].includes(t) ? t : 'live';
}

// ---- status ----
async function loadStatus() {
  const r = await fetch('/api/status');
  const s = await r.json();
  setText($('status'), `model ${s.model} · songs ${s.song_model} · detector ${s.detector}`);
  setText($('spotify-state'), s.spotify);
  $('spotify-login').hidden = !s.spotify_login;
  $('spotify-import').hidden = !s.spotify_login;
}

// ---- live ----
let ws = null, stream = null, inFlight = false, lastSent = 0, timer = null;
const history = [];
const grab = document.createElement('canvas');

async function startLive() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (e) {
    setText($('live-note'), 'No camera: ' + e.message);
    return;
  }
  $('video').srcObject = stream;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  ws = new WebSocket(`${proto}//${location.host}/ws/live`);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => {
    ws.send(JSON.stringify({ type: 'strategy', value: $('strategy').value }));
    if ($('source').value !== 'catalog') ws.send(JSON.stringify({ type: 'source', value: $('source').value }));
    timer = setInterval(sendFrame, 20);
  };
  ws.onmessage = (ev) => onAnswer(JSON.parse(ev.data));
  ws.onclose = () => { setText($('live-note'), 'disconnected'); stopLive(); };
  $('start').disabled = true; $('stop').disabled = false; $('save').disabled = false;
}

function stopLive() {
  if (timer) clearInterval(timer);
  timer = null;
  if (ws && ws.readyState <= 1) ws.close();
  ws = null;
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  inFlight = false;
  $('start').disabled = false; $('stop').disabled = true;
}

function sendFrame() {
  const video = $('video');
  if (!ws || ws.readyState !== 1 || inFlight || !video.videoWidth) return;
  const now = performance.now();
  if (now - lastSent < MIN_INTERVAL_MS) return;
  lastSent = now;
  grab.width = SEND_WIDTH;
  grab.height = Math.round(video.videoHeight * SEND_WIDTH / video.videoWidth);
  grab.getContext('2d').drawImage(video, 0, 0, grab.width, grab.height);
  inFlight = true;
  grab.toBlob((blob) => {
    if (!blob || !ws || ws.readyState !== 1) { inFlight = false; return; }
    blob.arrayBuffer().then((buf) => ws.send(buf));
  }, 'image/jpeg', 0.8);
}

function onAnswer(a) {
  if (a.type === 'frame') {
    inFlight = false;
    bump('frames', 1);
    bump('boxes', a.faces.length);
    drawBoxes(a);
    if (a.faces.length) {
      const mean = EMOTIONS.map((_, i) => a.faces.reduce((s, f) => s + f.probabilities[i], 0) / a.faces.length);
      history.push(mean);
      if (history.length > HISTORY) history.shift();
      drawTimeline();
    }
    setText($('live-note'), `frame ${a.seq}: ${a.faces.length} face(s), ${a.server_ms.toFixed(1)} ms on the server`);
  } else if (a.type === 'mood') {
    showMood(a);
  } else if (a.type === 'saved') {
    const link = document.createElement('a');
    link.href = a.report; link.textContent = 'the saved report';
    $('live-note').replaceChildren(document.createTextNode(a.sentence + ' — '), link);
  } else if (a.type === 'error') {
    inFlight = false;
    setText($('live-note'), a.message);
  }
}

function drawBoxes(a) {
  const c = $('overlay'), video = $('video');
  c.width = c.clientWidth; c.height = c.clientHeight;
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  // The video is letterboxed into the stage; boxes follow the same fit.
  const scale = Math.min(c.width / a.width, c.height / a.height);
  const ox = (c.width - a.width * scale) / 2, oy = (c.height - a.height * scale) / 2;
  g.lineWidth = 3; g.font = '16px sans-serif';
  for (const f of a.faces) {
    const [x, y, w, h] = f.bbox;
    const colour = COLOURS[EMOTIONS.indexOf(f.top)];
    g.strokeStyle = colour; g.fillStyle = colour;
    g.strokeRect(ox + x * scale, oy + y * scale, w * scale, h * scale);
    g.fillText(`${f.top} ${(f.confidence * 100).toFixed(0)}%`, ox + x * scale, Math.max(14, oy + y * scale - 4));
  }
  if (!video.videoWidth) return;
}

function drawTimeline() {
  const c = $('timeline'), g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  EMOTIONS.forEach((_, e) => {
    g.strokeStyle = COLOURS[e]; g.lineWidth = 2; g.beginPath();
    history.forEach((p, i) => {
      const x = (i / (HISTORY - 1)) * c.width, y = c.height - p[e] * (c.height - 4) - 2;
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  });
}

function showMood(a) {
  const v = a.verdict;
  body.dataset.mood = v.mood || '';
  setText($('mood'), v.sentence);
  const aff = a.affect;
  setText($('mood-detail'), aff
    ? `decided over the latest face readings (up to ${a.window}) · valence ${aff.target.valence.toFixed(2)}, arousal ${aff.target.arousal.toFixed(2)}` +
      (aff.songs_mood ? ` · ${aff.songs_mood} songs (${aff.strategy}) from ${a.from}` : '')
    : '');
  fillSongs($('songs'), a.songs);
  body.dataset.songs = String(a.songs.length);
}

function fillSongs(list, songs) {
  list.replaceChildren(...songs.map((s) => {
    const li = document.createElement('li');
    const label = `${s.name || '(no name)'} — ${s.artists}`;
    if (s.url && s.url.startsWith('https://open.spotify.com/')) {
      const a = document.createElement('a');
      a.href = s.url; a.target = '_blank'; a.rel = 'noopener'; a.textContent = label;
      li.appendChild(a);
    } else {
      li.textContent = label;
    }
    return li;
  }));
}

// ---- clip ----
function upload() {
  const file = $('file').files[0];
  if (!file) return;
  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/clip?name=' + encodeURIComponent(file.name));
  $('progress').hidden = false; $('progress').value = 0;
  $('clip-result').hidden = true;
  body.dataset.clip = 'uploading';
  setText($('clip-state'), `sending ${file.name}…`);
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) $('progress').value = e.loaded / e.total; };
  xhr.upload.onload = () => setText($('clip-state'), 'reading the faces…');
  xhr.onload = () => {
    $('progress').hidden = true;
    if (xhr.status !== 200) {
      body.dataset.clip = 'error';
      setText($('clip-state'), `refused (${xhr.status}): ${xhr.responseText}`);
      return;
    }
    const answer = JSON.parse(xhr.responseText);
    const r = answer.result;
    setText($('clip-state'), `${r.clip.frames_sampled} frames read in ${r.timing.pipeline_s.toFixed(2)} s`);
    setText($('clip-verdict'), r.verdict.sentence);
    $('clip-report').href = answer.report;
    fillSongs($('clip-songs'), r.recommendations);
    $('clip-result').hidden = false;
    body.dataset.clip = 'done';
    body.dataset.clipMood = r.verdict.mood || '';
  };
  xhr.onerror = () => { body.dataset.clip = 'error'; setText($('clip-state'), 'the upload failed'); };
  xhr.send(file);
}

// ---- runs ----
async function loadRuns() {
  const runs = await (await fetch('/api/runs')).json();
  const rows = runs.map((r) => {
    const tr = document.createElement('tr');
    const cells = [r.kind, null, r.summary, new Date(r.modified * 1000).toLocaleString()];
    cells.forEach((text, i) => {
      const td = document.createElement('td');
      if (i === 1) {
        const a = document.createElement('a');
        a.href = r.url; a.textContent = r.name;
        td.appendChild(a);
      } else {
        td.textContent = text;
      }
      tr.appendChild(td);
    });
    return tr;
  });
  $('runs-table').tBodies[0].replaceChildren(...rows);
  body.dataset.runs = String(runs.length);
}

// ---- wiring ----
$('start').onclick = startLive;
$('stop').onclick = stopLive;
$('save').onclick = () => { if (ws) ws.send(JSON.stringify({ type: 'save' })); setText($('live-note'), 'saving…'); };
$('strategy').onchange = () => { if (ws) ws.send(JSON.stringify({ type: 'strategy', value: $('strategy').value })); };
$('source').onchange = () => { if (ws) ws.send(JSON.stringify({ type: 'source', value: $('source').value })); };
$('spotify-import').onclick = async () => {
  setText($('import-state'), 'importing your liked songs…');
  const r = await fetch('/api/spotify/import', { method: 'POST' });
  setText($('import-state'), (r.ok ? '' : 'failed: ') + await r.text());
};
$('file').onchange = () => { $('upload').disabled = !$('file').files.length; };
$('upload').onclick = upload;
setText($('legend'), EMOTIONS.map((e) => e).join(' · '));
$('legend').replaceChildren(...EMOTIONS.map((e, i) => {
  const span = document.createElement('span');
  span.style.color = COLOURS[i]; span.textContent = e + '  ';
  return span;
}));
showTab(tabFromHash());
loadStatus();
if (location.hash === '#live-auto') startLive();
