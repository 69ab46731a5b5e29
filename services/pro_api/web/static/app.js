/* My study diary: the patient's phone app (pro_api /app/).
 *
 * Plain JavaScript, no framework and no build step. Everything the patient enters goes first
 * into an outbox in localStorage and is then sent with an Idempotency-Key; if the network drops
 * it stays there and is sent when the phone is back online, and the page says which answers are
 * saved on the server and which are still waiting on the phone.
 *
 * Sign-in: the activation code is exchanged for an access token (kept in memory only) and a
 * refresh token kept in localStorage, so the patient stays signed in after closing the app.
 * Trade-off: a script injected into this origin could read localStorage; the strict CSP (no
 * inline or foreign script) is what guards against that, refresh tokens are single use
 * (a stolen, reused one signs the phone out) and the study team can revoke them.
 */
'use strict';

(() => {
  // ------------------------------------------------------------------ storage and i18n

  const KEYS = {
    refresh: 'captem.refresh',
    outbox: 'captem.outbox',
    lang: 'captem.lang',
    diary: 'captem.diary',
    assessments: 'captem.assessments',
    answers: 'captem.answers.',
    lastSent: 'captem.lastSent',
  };

  const store = {
    get(key, fallback = null) {
      try {
        const raw = localStorage.getItem(key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch (_) {
        return fallback;
      }
    },
    set(key, value) { localStorage.setItem(key, JSON.stringify(value)); },
    del(key) { localStorage.removeItem(key); },
  };

  const STRINGS = {
    en: {
      skip: 'Skip to content', appName: 'My study diary', language: 'Language',
      loading: 'Loading…',
      activateTitle: 'Welcome',
      activateIntro: 'Type the code the study team gave you. You only need to do this once on this phone.',
      codeLabel: 'Your code', codeHint: 'For example 7KQ2M-X9D4B. Capital or small letters both work.',
      activateButton: 'Start', codeMissing: 'Please type your code.',
      codeWrong: 'That code did not work. Check it and try again, or ask the study team for a new one.',
      codeLocked: 'Too many tries. Please wait a few minutes, or call the study team.',
      codeOffline: 'No internet connection. Connect to Wi-Fi or mobile data and try again.',
      signedOut: 'You have been signed out on this phone. Type a new code from the study team to continue.',
      todayTitle: 'Today', yesterday: 'Yesterday', today: 'Today',
      qCardTitle: 'Questionnaire',
      qOpen: 'A questionnaire is ready for you. It has {n} short questions. You can stop and carry on later. Please finish it by {date}.',
      qResume: 'You have started the questionnaire. Please finish it by {date}.',
      qWaiting: 'Your questionnaire answers are on this phone, waiting to be sent.',
      qStart: 'Start the questionnaire', qContinue: 'Carry on with the questionnaire',
      dosesTitle: 'Your medicine', dosesHint: 'Tap a dose once you have taken it.',
      noDoses: 'No medicine is planned for this day.',
      held: 'Do not take this dose: the study team has paused it.',
      notTaken: 'Not marked yet', taken: 'Taken at {time}', tapToMark: 'Tap when taken',
      capecitabine: 'Capecitabine', temozolomide: 'Temozolomide',
      morning: 'Morning', evening: 'Evening', bedtime: 'Bedtime',
      symptomsTitle: 'How you feel today',
      symptomsHint: 'Answer what you can. You can change your answers until the end of tomorrow.',
      tempQuestion: 'Your highest temperature today', tempHint: 'Leave empty if you did not take it.',
      tempLabel: 'Temperature', tempUnit: 'Unit',
      tempInvalid: 'Please type a temperature such as 37.2 (°C) or 99.0 (°F).',
      noteLabel: 'Anything else you want the study team to know? (optional)',
      saveSymptoms: 'Save how I feel',
      yes: 'Yes', no: 'No', less: 'One less', more: 'One more',
      savedAt: '✓ Saved at {time}.',
      waiting: '↻ Waiting to send. It is kept on this phone and will be sent when you are online.',
      failed: '⚠ Not accepted: {detail}',
      notSavedYet: 'Nothing saved for this day yet.',
      allSaved: '✓ Everything you entered is saved.',
      nWaiting: '↻ {n} waiting to send. Kept safe on this phone; sent by itself when you are back online.',
      nFailed: '⚠ {n} could not be saved. See the message next to it.',
      retryNow: 'Try sending now',
      offlineNow: 'You are offline.',
      dayClosed: 'This day is closed. It can no longer be changed.',
      dayNotOpen: 'This day has not started yet.',
      urgentHelp: 'If you feel very unwell, have a temperature of 38 °C (100.4 °F) or higher, or yellow eyes or skin, call the study team now. Do not wait for them to read this diary.',
      signOut: 'Sign out of this phone',
      signOutConfirm: 'Sign out? Anything still waiting to send will be lost.',
      questionOf: 'Question {i} of {n}',
      back: 'Back', next: 'Next', saveLater: 'Save and finish later',
      chooseOne: 'Choose one answer, or tap Next to skip this question.',
      draftSaved: '✓ Your answers so far are saved.',
      draftLocal: '↻ Your answers so far are kept on this phone.',
      reviewTitle: 'Check your answers',
      reviewIntro: 'Tap “Change” to correct an answer. When all is right, send your answers.',
      reviewMissing: '{n} questions have no answer. You can still send, or tap “Change” to answer them.',
      noAnswer: 'No answer', change: 'Change', send: 'Send my answers',
      sentTitle: 'Thank you', sentText: 'Your answers were sent to the study team.',
      queuedTitle: 'Saved on this phone',
      queuedText: 'You are offline, so your answers are kept on this phone. They will be sent by themselves when you are back online. You can close the app.',
      backToToday: 'Back to today',
      translationNote: '',
      genericError: 'Something went wrong. Please try again later.',
    },
    es: {
      skip: 'Ir al contenido', appName: 'Mi diario del estudio', language: 'Idioma',
      loading: 'Cargando…',
      activateTitle: 'Bienvenido',
      activateIntro: 'Escriba el código que le dio el equipo del estudio. Solo tiene que hacerlo una vez en este teléfono.',
      codeLabel: 'Su código', codeHint: 'Por ejemplo 7KQ2M-X9D4B. Mayúsculas o minúsculas, da igual.',
      activateButton: 'Empezar', codeMissing: 'Escriba su código, por favor.',
      codeWrong: 'Ese código no funcionó. Revíselo e inténtelo de nuevo, o pida uno nuevo al equipo del estudio.',
      codeLocked: 'Demasiados intentos. Espere unos minutos o llame al equipo del estudio.',
      codeOffline: 'No hay conexión a internet. Conéctese a wifi o datos móviles e inténtelo de nuevo.',
      signedOut: 'Se cerró la sesión en este teléfono. Escriba un código nuevo del equipo del estudio para seguir.',
      todayTitle: 'Hoy', yesterday: 'Ayer', today: 'Hoy',
      qCardTitle: 'Cuestionario',
      qOpen: 'Tiene un cuestionario listo. Tiene {n} preguntas cortas. Puede parar y seguir más tarde. Termínelo antes del {date}.',
      qResume: 'Ha empezado el cuestionario. Termínelo antes del {date}.',
      qWaiting: 'Sus respuestas del cuestionario están en este teléfono, esperando para enviarse.',
      qStart: 'Empezar el cuestionario', qContinue: 'Seguir con el cuestionario',
      dosesTitle: 'Su medicina', dosesHint: 'Toque cada dosis cuando la haya tomado.',
      noDoses: 'No hay medicina prevista para este día.',
      held: 'No tome esta dosis: el equipo del estudio la ha pausado.',
      notTaken: 'Sin marcar', taken: 'Tomada a las {time}', tapToMark: 'Toque al tomarla',
      capecitabine: 'Capecitabina', temozolomide: 'Temozolomida',
      morning: 'Mañana', evening: 'Tarde', bedtime: 'Al acostarse',
      symptomsTitle: 'Cómo se siente hoy',
      symptomsHint: 'Responda lo que pueda. Puede cambiar sus respuestas hasta el final de mañana.',
      tempQuestion: 'Su temperatura más alta de hoy', tempHint: 'Déjelo vacío si no se la tomó.',
      tempLabel: 'Temperatura', tempUnit: 'Unidad',
      tempInvalid: 'Escriba una temperatura como 37.2 (°C) o 99.0 (°F).',
      noteLabel: '¿Algo más que quiera contar al equipo del estudio? (opcional)',
      saveSymptoms: 'Guardar cómo me siento',
      yes: 'Sí', no: 'No', less: 'Uno menos', more: 'Uno más',
      savedAt: '✓ Guardado a las {time}.',
      waiting: '↻ Esperando para enviar. Se guarda en este teléfono y se enviará cuando tenga conexión.',
      failed: '⚠ No se aceptó: {detail}',
      notSavedYet: 'Todavía no hay nada guardado para este día.',
      allSaved: '✓ Todo lo que escribió está guardado.',
      nWaiting: '↻ {n} esperando para enviar. Guardado en este teléfono; se enviará solo cuando vuelva a tener conexión.',
      nFailed: '⚠ {n} no se pudieron guardar. Vea el mensaje a su lado.',
      retryNow: 'Intentar enviar ahora',
      offlineNow: 'No tiene conexión.',
      dayClosed: 'Este día está cerrado. Ya no se puede cambiar.',
      dayNotOpen: 'Este día todavía no ha empezado.',
      urgentHelp: 'Si se siente muy mal, tiene 38 °C (100.4 °F) de temperatura o más, o los ojos o la piel amarillos, llame ahora al equipo del estudio. No espere a que lean este diario.',
      signOut: 'Cerrar sesión en este teléfono',
      signOutConfirm: '¿Cerrar sesión? Lo que esté esperando para enviarse se perderá.',
      questionOf: 'Pregunta {i} de {n}',
      back: 'Atrás', next: 'Siguiente', saveLater: 'Guardar y terminar más tarde',
      chooseOne: 'Elija una respuesta, o toque Siguiente para saltar esta pregunta.',
      draftSaved: '✓ Sus respuestas hasta ahora están guardadas.',
      draftLocal: '↻ Sus respuestas hasta ahora se guardan en este teléfono.',
      reviewTitle: 'Revise sus respuestas',
      reviewIntro: 'Toque “Cambiar” para corregir una respuesta. Cuando todo esté bien, envíe sus respuestas.',
      reviewMissing: '{n} preguntas no tienen respuesta. Puede enviar igual, o tocar “Cambiar” para responderlas.',
      noAnswer: 'Sin respuesta', change: 'Cambiar', send: 'Enviar mis respuestas',
      sentTitle: 'Gracias', sentText: 'Sus respuestas se enviaron al equipo del estudio.',
      queuedTitle: 'Guardado en este teléfono',
      queuedText: 'No tiene conexión, así que sus respuestas se guardan en este teléfono. Se enviarán solas cuando vuelva a tener conexión. Puede cerrar la aplicación.',
      backToToday: 'Volver a hoy',
      translationNote: 'Las preguntas del cuestionario todavía no están traducidas; se muestran en inglés.',
      genericError: 'Algo salió mal. Inténtelo de nuevo más tarde.',
    },
  };

  // The diary's symptom questions in plain words (DOMAIN.md §3 fields, answer codes unchanged).
  const SYMPTOMS = [
    { name: 'stools_above_baseline', kind: 'count',
      en: ['How many more times than usual did you open your bowels today?', 'Type 0 if no more than usual.'],
      es: ['¿Cuántas veces más de lo normal fue al baño a hacer de vientre hoy?', 'Escriba 0 si no fue más de lo normal.'] },
    { name: 'incontinence', kind: 'bool',
      en: ['Did you have an accident, not reaching the toilet in time?'],
      es: ['¿Tuvo algún accidente, sin llegar a tiempo al baño?'] },
    { name: 'vomiting_episodes', kind: 'count',
      en: ['How many times did you vomit (throw up) in the last 24 hours?', 'Type 0 if none.'],
      es: ['¿Cuántas veces vomitó en las últimas 24 horas?', 'Escriba 0 si ninguna.'] },
    { name: 'nausea', kind: 'choice',
      options: ['none', 'appetite_loss', 'eating_less', 'cannot_eat_or_drink'],
      en: ['Did you feel sick to your stomach?', null, ['No', 'Yes, it took my appetite away', 'Yes, I ate less than usual', 'Yes, I could not eat or drink enough']],
      es: ['¿Tuvo náuseas (ganas de vomitar)?', null, ['No', 'Sí, me quitó el apetito', 'Sí, comí menos de lo normal', 'Sí, no pude comer ni beber lo suficiente']] },
    { name: 'appetite', kind: 'choice',
      options: ['normal', 'less_appetite', 'eating_less', 'weight_loss_or_cannot_eat'],
      en: ['How was your appetite?', null, ['Normal', 'Less hungry, but eating as usual', 'Eating less than usual', 'Losing weight, or I cannot eat']],
      es: ['¿Cómo estuvo su apetito?', null, ['Normal', 'Menos hambre, pero como lo normal', 'Como menos de lo normal', 'Pierdo peso, o no puedo comer']] },
    { name: 'fatigue', kind: 'choice',
      options: ['none', 'relieved_by_rest', 'limits_usual_activities', 'limits_self_care'],
      en: ['How tired were you?', null, ['Not tired', 'Tired, but rest helps', 'Too tired for shopping, cooking or housework', 'Too tired to wash, dress or eat without help']],
      es: ['¿Qué tan cansado estuvo?', null, ['Nada cansado', 'Cansado, pero descansar me ayuda', 'Demasiado cansado para compras, cocina o tareas de la casa', 'Demasiado cansado para lavarme, vestirme o comer sin ayuda']] },
    { name: 'hand_foot', kind: 'choice',
      options: ['none', 'skin_changes_no_pain', 'painful_limits_usual_activities', 'severe_limits_self_care'],
      en: ['How are the palms of your hands and the soles of your feet?', null, ['Normal', 'Red or changed, but not painful', 'Painful, and it stops me doing usual things', 'So bad I need help to wash, dress or eat']],
      es: ['¿Cómo están las palmas de sus manos y las plantas de sus pies?', null, ['Normales', 'Rojas o cambiadas, pero sin dolor', 'Duelen y no me dejan hacer mis cosas de siempre', 'Tan mal que necesito ayuda para lavarme, vestirme o comer']] },
    { name: 'mouth_sores', kind: 'choice',
      options: ['none', 'mild', 'painful_can_eat_modified_diet', 'severe_cannot_eat'],
      en: ['Do you have sores in your mouth?', null, ['No', 'Yes, mild', 'Yes, painful: I eat soft food', 'Yes, so painful I cannot eat']],
      es: ['¿Tiene llagas en la boca?', null, ['No', 'Sí, leves', 'Sí, duelen: como comida blanda', 'Sí, duelen tanto que no puedo comer']] },
    { name: 'abdominal_pain', kind: 'choice',
      options: ['none', 'mild', 'moderate_limits_usual_activities', 'severe_limits_self_care'],
      en: ['Any pain in your belly?', null, ['No', 'Yes, mild', 'Yes, it stops me doing usual things', 'Yes, so bad I need help to wash, dress or eat']],
      es: ['¿Tiene dolor de barriga?', null, ['No', 'Sí, leve', 'Sí, no me deja hacer mis cosas de siempre', 'Sí, tanto que necesito ayuda para lavarme, vestirme o comer']] },
    { name: 'constipation', kind: 'choice',
      options: ['none', 'occasional', 'persistent_regular_laxatives', 'obstipation_manual_evacuation'],
      en: ['Are you constipated (hard to open your bowels)?', null, ['No', 'Now and then', 'Most days: I take laxatives regularly', 'I cannot open my bowels without help']],
      es: ['¿Tiene estreñimiento (le cuesta hacer de vientre)?', null, ['No', 'De vez en cuando', 'Casi todos los días: tomo laxantes a menudo', 'No puedo hacer de vientre sin ayuda']] },
    { name: 'yellow_eyes_or_skin', kind: 'bool',
      en: ['Are the whites of your eyes or your skin yellow?'],
      es: ['¿Tiene amarillo lo blanco de los ojos o la piel?'] },
    { name: 'abdominal_swelling', kind: 'bool',
      en: ['Is your belly more swollen than usual?'],
      es: ['¿Tiene la barriga más hinchada de lo normal?'] },
    { name: 'confusion', kind: 'bool',
      en: ['Have you or your family noticed that you are confused or unusually sleepy?'],
      es: ['¿Usted o su familia han notado que está confundido o con más sueño de lo normal?'] },
  ];

  let lang = store.get(KEYS.lang) || ((navigator.language || 'en').slice(0, 2) === 'es' ? 'es' : 'en');

  function t(key, vars = {}) {
    const table = key in STRINGS[lang] ? STRINGS[lang] : STRINGS.en;
    const text = key in table ? table[key] : key;
    return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : ''));
  }

  const $ = (id) => document.getElementById(id);

  function h(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      if (name === 'text') node.textContent = value;
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function formatDate(isoDate) {
    const [y, m, d] = isoDate.split('-').map(Number);
    return new Intl.DateTimeFormat(lang, {
      weekday: 'long', day: 'numeric', month: 'long', timeZone: 'UTC',
    }).format(new Date(Date.UTC(y, m - 1, d)));
  }

  function formatTime(instant) {
    return new Intl.DateTimeFormat(lang, { hour: 'numeric', minute: '2-digit' }).format(new Date(instant));
  }

  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // ------------------------------------------------------------------------- the API

  class Offline extends Error {}
  class SignedOut extends Error {}

  let accessToken = null;

  async function rawFetch(method, path, { body, token, idempotencyKey } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store', credentials: 'omit',
      });
    } catch (_) {
      throw new Offline();
    }
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    return { ok: response.ok, status: response.status, data };
  }

  function storeTokens(pair) {
    accessToken = pair.access_token;
    store.set(KEYS.refresh, pair.refresh_token);
  }

  async function refreshSession() {
    // Refresh tokens are single use: two tabs refreshing with the same one would sign the phone
    // out, so refreshing is serialised with a Web Lock where the browser has them.
    const attempt = async () => {
      const before = store.get(KEYS.refresh);
      if (!before) throw new SignedOut();
      const result = await rawFetch('POST', '/v1/auth/refresh', { body: { refresh_token: before } });
      if (result.ok) { storeTokens(result.data); return; }
      if (result.status === 401 && store.get(KEYS.refresh) !== before) return; // another tab won
      if (result.status === 401 || result.status === 422) { store.del(KEYS.refresh); throw new SignedOut(); }
      throw new Offline();
    };
    if (navigator.locks) return navigator.locks.request('captem-refresh', attempt);
    return attempt();
  }

  async function api(method, path, options = {}) {
    if (!accessToken) await refreshSession();
    let result = await rawFetch(method, path, { ...options, token: accessToken });
    if (result.status === 401) {
      await refreshSession();
      result = await rawFetch(method, path, { ...options, token: accessToken });
    }
    if (result.status === 401) throw new SignedOut();
    return result;
  }

  function problemText(result) {
    return (result.data && result.data.detail) || t('genericError');
  }

  // --------------------------------------------------------------------------- outbox

  // Each item: {id, key, kind, method, path, body, group, pid, createdAt, state, error}.
  // `group` makes a newer save of the same thing (a diary day) replace a waiting older one.
  const outbox = {
    all() { return store.get(KEYS.outbox, []); },
    save(items) { store.set(KEYS.outbox, items); },
    add(item) {
      const items = this.all().filter((i) => !(item.group && i.group === item.group && i.state !== 'failed'));
      items.push({ id: newKey(), key: newKey(), createdAt: new Date().toISOString(), state: 'waiting', error: null, ...item });
      this.save(items);
    },
    remove(id) { this.save(this.all().filter((i) => i.id !== id)); },
    fail(id, error) { this.save(this.all().map((i) => (i.id === id ? { ...i, state: 'failed', error } : i))); },
    find(group) { return this.all().find((i) => i.group === group) || null; },
  };

  let flushing = null;

  function flush() {
    if (!flushing) flushing = doFlush().finally(() => { flushing = null; renderSync(); });
    return flushing;
  }

  async function doFlush() {
    const tried = new Set();
    for (;;) {
      // Oldest first; picks up items added while sending (a second tap during the first save).
      const item = outbox.all().find((i) => i.state === 'waiting' && !tried.has(i.id));
      if (!item) return;
      tried.add(item.id);
      let result;
      try {
        result = await api(item.method, item.path, { body: item.body, idempotencyKey: item.key });
      } catch (error) {
        if (error instanceof SignedOut) { showSignedOut(); return; }
        return; // offline: try again later, in the same order
      }
      const type = (result.data && result.data.type) || '';
      if (result.ok) {
        outbox.remove(item.id);
        afterSent(item, result.data);
      } else if (result.status >= 500 || result.status === 429 || type.endsWith('idempotency-in-flight')) {
        return; // the server is busy or still working on it: retry later with the same key
      } else {
        outbox.fail(item.id, problemText(result));
        afterFailed(item);
      }
    }
  }

  function renderSync() {
    const items = outbox.all();
    const waiting = items.filter((i) => i.state === 'waiting').length;
    const failed = items.filter((i) => i.state === 'failed').length;
    const box = $('sync-status');
    box.replaceChildren();
    box.className = 'sync';
    if (!store.get(KEYS.refresh)) return;
    if (failed) box.append(h('p', { class: 'failed', text: t('nFailed', { n: failed }) }));
    if (waiting) {
      box.classList.add('waiting');
      box.append(h('p', { text: (navigator.onLine ? '' : `${t('offlineNow')} `) + t('nWaiting', { n: waiting }) }));
      box.append(h('button', { type: 'button', class: 'secondary', text: t('retryNow'), onclick: () => flush() }));
    } else if (!failed) {
      box.classList.add('ok');
      box.append(h('p', { text: t('allSaved') }));
    }
    if (currentView === 'today') renderDayStates();
  }

  // ---------------------------------------------------------------------------- views

  let currentView = 'loading';

  function show(view, focusId) {
    for (const section of document.querySelectorAll('.view')) section.hidden = section.id !== `view-${view}`;
    currentView = view;
    const target = focusId ? $(focusId) : document.querySelector(`#view-${view} h1`);
    if (target) target.focus({ preventScroll: false });
    window.scrollTo(0, 0);
  }

  function applyStrings() {
    document.documentElement.lang = lang;
    document.title = t('appName');
    for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
    $('lang-select').value = lang;
  }

  function showSignedOut(message = t('signedOut')) {
    accessToken = null;
    store.del(KEYS.refresh);
    const error = $('activate-error');
    error.textContent = message;
    error.hidden = false;
    show('activate');
    renderSync();
  }

  // ------------------------------------------------------------------------ activation

  async function activate(code) {
    const error = $('activate-error');
    error.hidden = true;
    if (!code.trim()) {
      error.textContent = t('codeMissing');
      error.hidden = false;
      $('activation-code').focus();
      return;
    }
    let result;
    try {
      result = await rawFetch('POST', '/v1/auth/activate', { body: { activation_code: code.trim() } });
    } catch (_) {
      result = null;
    }
    if (result && result.ok) {
      storeTokens(result.data);
      // Answers left on this phone by someone else are never sent under this patient's name.
      const pid = patientOf(accessToken);
      outbox.save(outbox.all().filter((i) => i.pid === pid));
      $('activation-code').value = '';
      await openToday();
      return;
    }
    error.textContent = !result ? t('codeOffline')
      : result.status === 429 ? t('codeLocked')
      : result.status === 401 ? t('codeWrong') : problemText(result);
    error.hidden = false;
    $('activation-code').focus();
  }

  function patientOf(token) {
    if (!token) return null;
    try {
      const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(payload)).pid || null;
    } catch (_) {
      return null;
    }
  }

  // ----------------------------------------------------------------------------- today

  let diary = store.get(KEYS.diary);
  let assessments = store.get(KEYS.assessments);
  let selectedDate = null;
  const dayState = {}; // date -> {doses: {drug/slot: taken_at}, symptoms: {}, note}

  async function openToday() {
    show('loading');
    try {
      const [diaryResult, assessmentsResult] = await Promise.all([
        api('GET', '/v1/me/diary'),
        api('GET', '/v1/me/assessments'),
      ]);
      if (diaryResult.ok) { diary = diaryResult.data; store.set(KEYS.diary, diary); }
      if (assessmentsResult.ok) { assessments = assessmentsResult.data; store.set(KEYS.assessments, assessments); }
    } catch (error) {
      if (error instanceof SignedOut) { showSignedOut(); return; }
      // offline: show what this phone last saw
    }
    if (!diary) {
      show('today');
      $('day-closed').textContent = t('codeOffline');
      $('day-closed').hidden = false;
      return;
    }
    selectedDate = selectedDate || diary.today;
    renderToday();
    show('today');
    flush();
  }

  function dayOf(date) {
    return diary.days.find((d) => d.date === date) || null;
  }

  function stateFor(day) {
    if (!dayState[day.date]) {
      const pending = outbox.find(`diary:${day.date}`);
      const source = pending ? pending.body : day.entry;
      const doses = {};
      for (const dose of (source && source.doses) || []) {
        if (dose.taken) doses[`${dose.drug}/${dose.slot}`] = dose.taken_at || new Date().toISOString();
      }
      dayState[day.date] = {
        doses,
        symptoms: { ...((source && source.symptoms) || {}) },
        note: (source && source.note) || '',
      };
    }
    return dayState[day.date];
  }

  function saveDay(date) {
    const state = dayState[date];
    const doses = Object.entries(state.doses).map(([key, takenAt]) => {
      const [drug, slot] = key.split('/');
      return { drug, slot, taken: true, taken_at: takenAt };
    });
    const body = { doses, symptoms: state.symptoms };
    if (state.note.trim()) body.note = state.note.trim();
    outbox.add({ kind: 'diary', group: `diary:${date}`, method: 'PUT', path: `/v1/me/diary/${date}`, body, pid: patientOf(accessToken) });
    renderSync();
    flush();
  }

  function renderToday() {
    const day = dayOf(selectedDate) || dayOf(diary.today);
    if (!day) return;
    selectedDate = day.date;
    $('today-title').textContent = day.date === diary.today ? t('today') : t('yesterday');
    $('today-date').textContent = formatDate(day.date);

    // Yesterday stays editable until the end of today (anti-backfill window).
    const yesterday = diary.days.find((d) => d.date < diary.today && d.editable && d.date === previousDate(diary.today));
    const switcher = $('day-switch');
    switcher.replaceChildren();
    switcher.hidden = !yesterday;
    if (yesterday) {
      for (const [date, label] of [[yesterday.date, t('yesterday')], [diary.today, t('today')]]) {
        switcher.append(h('button', {
          type: 'button', class: 'secondary', 'aria-pressed': String(date === selectedDate), text: label,
          onclick: () => { selectedDate = date; renderToday(); $('today-title').focus(); },
        }));
      }
    }

    const closed = $('day-closed');
    closed.hidden = day.editable;
    closed.textContent = day.status === 'not_open_yet' ? t('dayNotOpen') : t('dayClosed');

    renderQuestionnaireCard();
    renderDoses(day);
    renderSymptoms(day);
    renderDayStates();
  }

  function previousDate(isoDate) {
    const [y, m, d] = isoDate.split('-').map(Number);
    return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
  }

  function renderDoses(day) {
    const list = $('dose-list');
    list.replaceChildren();
    const state = stateFor(day);
    if (!day.planned_doses.length) list.append(h('li', { class: 'hint', text: t('noDoses') }));
    for (const dose of day.planned_doses) {
      const key = `${dose.drug}/${dose.slot}`;
      const name = `${t(dose.drug)} ${dose.mg} mg · ${t(dose.slot)}`;
      if (dose.held) {
        list.append(h('li', { class: 'dose held' }, h('span', { class: 'dose-name', text: name }), h('span', { class: 'dose-state', text: `✕ ${t('held')}` })));
        continue;
      }
      const takenAt = state.doses[key];
      const button = h('button', {
        type: 'button', class: `dose-button${takenAt ? ' taken' : ''}`, 'aria-pressed': String(Boolean(takenAt)),
        disabled: !day.editable,
        onclick: () => {
          if (state.doses[key]) delete state.doses[key];
          else state.doses[key] = new Date().toISOString();
          renderDoses(day);
          saveDay(day.date);
          list.querySelector(`[data-dose="${key}"]`).focus();
        },
      },
      h('span', { class: 'check', 'aria-hidden': 'true', text: takenAt ? '✓' : '' }),
      h('span', { class: 'dose-text' },
        h('span', { class: 'dose-name', text: name }),
        h('span', { class: 'dose-state', text: takenAt ? t('taken', { time: formatTime(takenAt) }) : t('tapToMark') })));
      button.dataset.dose = key;
      list.append(h('li', { class: 'dose' }, button));
    }
  }

  function renderSymptoms(day) {
    const state = stateFor(day);
    const container = $('symptom-fields');
    container.replaceChildren();
    for (const field of SYMPTOMS) {
      const [question, hint, labels] = field[lang] || field.en;
      const id = `sym-${field.name}`;
      const value = state.symptoms[field.name];
      const legend = h('legend', { text: question });
      const fieldset = h('fieldset', { class: 'question', disabled: !day.editable }, legend);
      if (hint) fieldset.append(h('p', { class: 'hint', id: `${id}-hint`, text: hint }));
      if (field.kind === 'count') {
        const input = h('input', { id, name: field.name, inputmode: 'numeric', pattern: '[0-9]*', maxlength: '2', autocomplete: 'off', 'aria-describedby': hint ? `${id}-hint` : null });
        input.value = value === undefined || value === null ? '' : String(value);
        legend.id = `${id}-legend`;
        input.setAttribute('aria-labelledby', `${id}-legend`);
        const step = (delta) => {
          const next = Math.max(0, Math.min(50, (parseInt(input.value, 10) || 0) + delta));
          input.value = String(next);
        };
        fieldset.append(h('div', { class: 'stepper' },
          h('button', { type: 'button', class: 'secondary', 'aria-label': t('less'), text: '−', onclick: () => step(-1) }),
          input,
          h('button', { type: 'button', class: 'secondary', 'aria-label': t('more'), text: '+', onclick: () => step(1) })));
      } else {
        const options = field.kind === 'bool'
          ? [[true, t('yes')], [false, t('no')]]
          : field.options.map((code, i) => [code, labels[i]]);
        const group = h('div', { class: field.kind === 'bool' ? 'options inline' : 'options' });
        options.forEach(([code, label], i) => {
          const input = h('input', { type: 'radio', name: field.name, id: `${id}-${i}`, value: String(code) });
          input.checked = value === code;
          group.append(h('label', { class: 'option', for: `${id}-${i}` }, input, h('span', { text: label })));
        });
        fieldset.append(group);
      }
      container.append(fieldset);
    }
    $('note').value = state.note;
    $('note').disabled = !day.editable;
    const temperature = state.symptoms.temperature_c;
    $('temperature').value = temperature === undefined ? '' : String(temperature);
    document.querySelector('input[name="temp-unit"][value="C"]').checked = true;
    $('temperature').disabled = !day.editable;
    $('temp-error').hidden = true;
    document.querySelector('#symptom-form button[type="submit"]').disabled = !day.editable;
  }

  function readSymptoms() {
    const symptoms = {};
    for (const field of SYMPTOMS) {
      if (field.kind === 'count') {
        const raw = $(`sym-${field.name}`).value.trim();
        if (raw !== '' && /^\d{1,2}$/.test(raw)) symptoms[field.name] = Number(raw);
      } else {
        const checked = document.querySelector(`input[name="${field.name}"]:checked`);
        if (checked) symptoms[field.name] = field.kind === 'bool' ? checked.value === 'true' : checked.value;
      }
    }
    const raw = $('temperature').value.trim().replace(',', '.');
    if (raw) {
      let value = Number(raw);
      const fahrenheit = document.querySelector('input[name="temp-unit"]:checked').value === 'F';
      if (fahrenheit) value = (value - 32) * 5 / 9;
      value = Math.round(value * 10) / 10;
      if (!Number.isFinite(value) || value < 34 || value > 43) return null;
      symptoms.temperature_c = value;
    }
    return symptoms;
  }

  function renderDayStates() {
    if (!diary || !selectedDate) return;
    const day = dayOf(selectedDate);
    if (!day) return;
    const pending = outbox.find(`diary:${day.date}`);
    let text;
    let cls = 'saved-state';
    if (pending && pending.state === 'failed') { text = t('failed', { detail: pending.error }); cls += ' failed'; }
    else if (pending) { text = t('waiting'); cls += ' waiting'; }
    else if (day.entry) { text = t('savedAt', { time: formatTime(day.entry.saved_at) }); cls += ' ok'; }
    else text = t('notSavedYet');
    for (const id of ['doses-status', 'symptoms-status']) {
      $(id).textContent = text;
      $(id).className = cls;
    }
  }

  // ---------------------------------------------------------------------- questionnaire

  let instrument = null;
  let questionnaire = null; // {timepoint, closesOn, items, answers, index}

  function openTimepoint() {
    if (!assessments) return null;
    return assessments.timepoints.find((tp) => tp.status === 'open') || null;
  }

  function renderQuestionnaireCard() {
    const card = $('questionnaire-card');
    const timepoint = openTimepoint();
    const waiting = outbox.all().find((i) => i.kind === 'questionnaire');
    card.hidden = !timepoint && !waiting;
    if (card.hidden) return;
    const button = $('questionnaire-start');
    if (waiting) {
      $('questionnaire-card-text').textContent = waiting.state === 'failed' ? t('failed', { detail: waiting.error }) : t('qWaiting');
      button.hidden = true;
      return;
    }
    const local = store.get(KEYS.answers + timepoint.code);
    const started = timepoint.has_draft || (local && Object.keys(local).length > 0);
    const closes = formatDate(timepoint.window.closes_on);
    $('questionnaire-card-text').textContent = started ? t('qResume', { date: closes }) : t('qOpen', { n: 51, date: closes });
    button.hidden = false;
    button.textContent = started ? t('qContinue') : t('qStart');
  }

  async function startQuestionnaire() {
    const timepoint = openTimepoint();
    if (!timepoint) return;
    show('loading');
    try {
      const result = await api('GET', `/v1/instruments/${assessments.instrument}?lang=${encodeURIComponent(lang)}`);
      if (!result.ok) throw new Error(problemText(result));
      instrument = result.data;
      let answers = store.get(KEYS.answers + timepoint.code);
      if (!answers) {
        const draft = await api('GET', `/v1/me/questionnaire-responses/${timepoint.code}/draft`);
        answers = draft.ok ? draft.data.answers : {};
      }
      questionnaire = { timepoint: timepoint.code, answers, index: 0 };
      questionnaire.index = firstUnanswered();
    } catch (error) {
      if (error instanceof SignedOut) { showSignedOut(); return; }
      show('today');
      $('questionnaire-card-text').textContent = error instanceof Offline ? t('codeOffline') : error.message;
      return;
    }
    if (questionnaire.index >= visibleItems().length) showReview();
    else showQuestion();
  }

  function visibleItems() {
    return instrument.items.filter((item) => !item.show_if
      || item.show_if.answered_with.includes(questionnaire.answers[String(item.show_if.item)]));
  }

  function firstUnanswered() {
    const items = visibleItems();
    const index = items.findIndex((item) => !(String(item.number) in questionnaire.answers));
    return index === -1 ? items.length : index;
  }

  function showQuestion() {
    const items = visibleItems();
    const item = items[questionnaire.index];
    $('progress-text').textContent = t('questionOf', { i: questionnaire.index + 1, n: items.length });
    $('progress').value = (questionnaire.index) / items.length;
    $('question-recall').textContent = [t('translationNote'), item.recall_period ? capitalise(item.recall_period) + ':' : '']
      .filter(Boolean).join(' ');
    $('question-text').textContent = item.text;
    const options = $('question-options');
    options.replaceChildren();
    const current = questionnaire.answers[String(item.number)];
    item.options.forEach((option) => {
      const id = `q${item.number}-${option.code}`;
      const input = h('input', { type: 'radio', name: 'answer', id, value: String(option.code) });
      input.checked = current === option.code;
      input.addEventListener('change', () => {
        questionnaire.answers[String(item.number)] = option.code;
        saveDraft();
      });
      const number = item.options.length > 4 ? h('span', { class: 'num', 'aria-hidden': 'true', text: String(option.code) }) : null;
      options.append(h('label', { class: 'option', for: id }, input, number, h('span', { text: option.label })));
    });
    $('question-back').hidden = questionnaire.index === 0;
    show('question', 'question-text');
  }

  function capitalise(text) { return text.charAt(0).toUpperCase() + text.slice(1); }

  let draftTimer = null;

  function saveDraft() {
    const { timepoint, answers } = questionnaire;
    store.set(KEYS.answers + timepoint, answers);
    $('draft-status').textContent = t('draftLocal');
    clearTimeout(draftTimer);
    draftTimer = setTimeout(async () => {
      try {
        const result = await api('PUT', `/v1/me/questionnaire-responses/${timepoint}/draft`, { body: { instrument: instrument.code, answers } });
        if (result.ok) $('draft-status').textContent = t('draftSaved');
      } catch (error) {
        if (error instanceof SignedOut) showSignedOut();
      }
    }, 600);
  }

  function showReview() {
    const items = visibleItems();
    const list = $('review-list');
    list.replaceChildren();
    let missing = 0;
    items.forEach((item, index) => {
      const code = questionnaire.answers[String(item.number)];
      const option = item.options.find((o) => o.code === code);
      if (!option) missing += 1;
      list.append(h('li', {},
        h('p', { class: 'review-q', text: item.text }),
        h('p', { class: 'review-a', text: option ? option.label : t('noAnswer') }),
        h('button', {
          type: 'button', class: 'secondary', text: t('change'),
          'aria-label': `${t('change')}: ${t('questionOf', { i: index + 1, n: items.length })}`,
          onclick: () => { questionnaire.index = index; questionnaire.returnToReview = true; showQuestion(); },
        })));
    });
    $('review-missing').hidden = missing === 0;
    $('review-missing').textContent = t('reviewMissing', { n: missing });
    show('review');
  }

  async function sendQuestionnaire() {
    const { timepoint, answers } = questionnaire;
    clearTimeout(draftTimer);
    outbox.add({
      kind: 'questionnaire', group: `questionnaire:${timepoint}`, method: 'POST',
      path: '/v1/me/questionnaire-responses',
      body: { instrument: instrument.code, timepoint, answers },
      pid: patientOf(accessToken),
    });
    store.del(KEYS.answers + timepoint);
    renderSync();
    await flush();
    const stillWaiting = outbox.find(`questionnaire:${timepoint}`);
    if (!stillWaiting) return; // afterSent showed the thank-you page
    $('sent-title').textContent = stillWaiting.state === 'failed' ? t('genericError') : t('queuedTitle');
    $('sent-text').textContent = stillWaiting.state === 'failed' ? t('failed', { detail: stillWaiting.error }) : t('queuedText');
    show('sent');
  }

  function afterSent(item, data) {
    if (item.kind === 'questionnaire') {
      if (assessments) {
        const tp = assessments.timepoints.find((x) => x.code === item.body.timepoint);
        if (tp) { tp.status = 'completed'; tp.response_id = data && data.id; store.set(KEYS.assessments, assessments); }
      }
      if (currentView === 'sent' || currentView === 'review') {
        $('sent-title').textContent = t('sentTitle');
        $('sent-text').textContent = t('sentText');
        show('sent');
      }
    }
    if (item.kind === 'diary' && diary && data) {
      const index = diary.days.findIndex((d) => d.date === data.date);
      if (index >= 0) { diary.days[index] = data; store.set(KEYS.diary, diary); }
    }
    if (currentView === 'today') renderQuestionnaireCard();
  }

  function afterFailed(item) {
    if (item.kind === 'diary') delete dayState[item.path.split('/').pop()];
    if (currentView === 'today') renderToday();
  }

  // ------------------------------------------------------------------------------ wiring

  function wire() {
    $('lang-select').addEventListener('change', (event) => {
      lang = event.target.value;
      store.set(KEYS.lang, lang);
      applyStrings();
      renderSync();
      if (currentView === 'today') renderToday();
      else if (currentView === 'question') startQuestionnaire();
    });
    $('activate-form').addEventListener('submit', (event) => {
      event.preventDefault();
      activate($('activation-code').value);
    });
    $('symptom-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const day = dayOf(selectedDate);
      const symptoms = readSymptoms();
      if (symptoms === null) {
        $('temp-error').textContent = t('tempInvalid');
        $('temp-error').hidden = false;
        $('temperature').focus();
        return;
      }
      $('temp-error').hidden = true;
      const state = stateFor(day);
      state.symptoms = symptoms;
      state.note = $('note').value;
      saveDay(day.date);
      $('symptoms-status').focus();
    });
    $('symptoms-status').tabIndex = -1;
    $('questionnaire-start').addEventListener('click', startQuestionnaire);
    $('question-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const items = visibleItems();
      if (questionnaire.returnToReview || questionnaire.index + 1 >= items.length) {
        questionnaire.returnToReview = false;
        showReview();
        return;
      }
      questionnaire.index += 1;
      showQuestion();
    });
    $('question-back').addEventListener('click', () => {
      questionnaire.index = Math.max(0, questionnaire.index - 1);
      showQuestion();
    });
    for (const id of ['question-later', 'review-later']) {
      $(id).addEventListener('click', () => { saveDraft(); openToday(); });
    }
    $('review-send').addEventListener('click', sendQuestionnaire);
    $('sent-home').addEventListener('click', () => openToday());
    $('sign-out').addEventListener('click', () => {
      if (!window.confirm(t('signOutConfirm'))) return;
      outbox.save([]);
      store.del(KEYS.diary);
      store.del(KEYS.assessments);
      diary = null;
      assessments = null;
      showSignedOut('');
      $('activate-error').hidden = true;
    });
    window.addEventListener('online', () => flush());
    window.addEventListener('offline', renderSync);
    document.addEventListener('visibilitychange', () => { if (!document.hidden) flush(); });
    setInterval(() => { if (outbox.all().some((i) => i.state === 'waiting')) flush(); }, 15000);
  }

  async function start() {
    applyStrings();
    wire();
    if ('serviceWorker' in navigator) {
      navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {});
    }
    // A link or QR code can carry the code: /app/#activate=CODE. The fragment never reaches
    // the server or a Referer; it is removed from the address bar at once.
    const match = /^#activate=([A-Za-z0-9 -]{1,64})$/.exec(decodeURIComponent(location.hash));
    if (match) {
      history.replaceState(null, '', location.pathname);
      $('activation-code').value = match[1];
      show('activate');
      renderSync();
      return;
    }
    if (!store.get(KEYS.refresh)) {
      show('activate');
      renderSync();
      return;
    }
    await openToday();
    renderSync();
  }

  document.addEventListener('DOMContentLoaded', start);
})();
