"use strict";
// The monitor: hash routes #/instances, #/instances/<id> and #/entities over the management API.
(() => {
  const config = JSON.parse(document.body.dataset.config);
  if (config.readOnly) document.body.classList.add("read-only"); // actions hidden, and refused by the API
  const key = new URLSearchParams(location.search).get("code");
  const CONTINUATION = "x-ms-continuation-token";
  const view = document.getElementById("view");
  const banner = document.getElementById("banner");

  // ---- the API ------------------------------------------------------------------------------
  async function api(method, path, { query = {}, body, headers = {} } = {}) {
    const url = new URL(config.api + path, location.origin);
    for (const [name, value] of Object.entries(query)) {
      for (const item of [].concat(value)) if (item !== "" && item != null) url.searchParams.append(name, item);
    }
    const sent = { ...headers, [config.header]: "1" };
    if (key) sent["x-functions-key"] = key;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    const response = await fetch(url, { method, headers: sent, body });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    if (!response.ok && response.status !== 202) {
      const message = (data && (data.ExceptionMessage || data.Message || data.error)) || text || response.statusText;
      throw Object.assign(new Error(`${method} ${path}: ${response.status} ${message}`), { status: response.status });
    }
    return { status: response.status, data, headers: response.headers };
  }

  // ---- small helpers ------------------------------------------------------------------------
  let sticky = false; // a success message survives the route change its action caused
  function show(message, ok = false) {
    sticky = ok && Boolean(message);
    banner.textContent = message;
    banner.classList.toggle("ok", ok);
    banner.hidden = !message;
  }
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name in node) node[name] = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
    return node;
  }
  // Each view mounted counts one; a load that finds another view mounted when its answer comes drops it.
  let mounted = 0;
  function mount(templateId) {
    mounted += 1;
    view.replaceChildren(document.getElementById(templateId).content.cloneNode(true));
  }
  const $ = (selector) => view.querySelector(selector);
  function time(text) {
    // .NET writes seven fractional digits; Date wants at most three.
    if (!text) return null;
    const ms = Date.parse(String(text).replace(/(\.\d{3})\d+/, "$1"));
    return Number.isNaN(ms) ? null : ms;
  }
  function shown(text) {
    const ms = time(text);
    return ms == null ? "" : new Date(ms).toISOString().replace("T", " ").replace(/(\.000)?Z$/, "");
  }
  function pretty(value) {
    if (value === null || value === undefined) return "null";
    return typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value, null, 2);
  }
  // The Python SDK stores inputs and outputs as JSON text inside a JSON string ("[\"eu\", \"us\"]"):
  // such a string is shown as the value it holds, and the element says so.
  function showValue(element, value) {
    let shownValue = value;
    let decoded = false;
    if (typeof value === "string" && /^\s*[[{"\d-]|^\s*(true|false|null)\s*$/.test(value)) {
      try { shownValue = JSON.parse(value); decoded = true; } catch { decoded = false; }
    }
    element.textContent = pretty(shownValue);
    element.classList.toggle("decoded", decoded);
    element.title = decoded ? `decoded from the JSON text ${JSON.stringify(value)}` : "";
  }
  function duration(ms) {
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
    if (ms < 3600000) {
      const total = Math.round(ms / 1000);
      return `${Math.floor(total / 60)} min ${total % 60} s`;
    }
    return `${(ms / 3600000).toFixed(1)} h`;
  }
  function statusBadge(status) {
    return el("span", { class: `status ${status}` }, status);
  }
  function localToIso(value) {
    return value ? new Date(`${value}Z`).toISOString() : "";
  }
  function isoToLocal(value) {
    return value ? value.replace(/Z$/, "").replace(/\.\d+$/, "").slice(0, 19) : "";
  }

  // ---- the instance list --------------------------------------------------------------------
  const list = { filters: {}, tokens: [null], page: 0 };

  function filtersFromHash(params) {
    return {
      runtimeStatus: params.getAll("runtimeStatus"),
      name: params.get("name") || "",
      instanceIdPrefix: params.get("instanceIdPrefix") || "",
      createdTimeFrom: params.get("createdTimeFrom") || "",
      createdTimeTo: params.get("createdTimeTo") || "",
      customStatusContains: params.get("customStatusContains") || "",
      order: params.get("order") || "newest",
      top: params.get("top") || "25",
    };
  }
  function fillFilterForm(form, filters) {
    for (const box of form.querySelectorAll("input[name=runtimeStatus]")) box.checked = filters.runtimeStatus.includes(box.value);
    form.name.value = filters.name;
    form.instanceIdPrefix.value = filters.instanceIdPrefix;
    form.createdTimeFrom.value = isoToLocal(filters.createdTimeFrom);
    form.createdTimeTo.value = isoToLocal(filters.createdTimeTo);
    form.customStatusContains.value = filters.customStatusContains;
    form.order.value = filters.order;
    form.top.value = filters.top;
  }
  function hashOfFilters(form) {
    const params = new URLSearchParams();
    for (const box of form.querySelectorAll("input[name=runtimeStatus]:checked")) params.append("runtimeStatus", box.value);
    for (const name of ["name", "instanceIdPrefix", "customStatusContains"]) if (form[name].value.trim()) params.set(name, form[name].value.trim());
    for (const name of ["createdTimeFrom", "createdTimeTo"]) if (form[name].value) params.set(name, localToIso(form[name].value));
    if (form.order.value !== "newest") params.set("order", form.order.value);
    if (form.top.value !== "25") params.set("top", form.top.value);
    const text = params.toString();
    return text ? `#/instances?${text}` : "#/instances";
  }

  async function showInstances(params) {
    mount("tpl-instances");
    list.filters = filtersFromHash(params);
    list.tokens = [null];
    list.page = 0;
    const form = $("#filters");
    fillFilterForm(form, list.filters);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const target = hashOfFilters(form);
      if (location.hash === target) loadInstancePage(); else location.hash = target;
    });
    $("#clear-filters").addEventListener("click", () => { location.hash = "#/instances"; });
    $("#next-page").addEventListener("click", () => { list.page += 1; loadInstancePage(); });
    $("#prev-page").addEventListener("click", () => { list.page -= 1; loadInstancePage(); });
    $("#refresh").addEventListener("click", () => loadInstancePage());
    wireBulkActions();
    await loadInstancePage();
  }

  // ---- acting on many: the selected rows one by one, or every match as a job ------------------
  function selectedIds() {
    return [...document.querySelectorAll("#instances tbody tr")].filter((row) => row.querySelector(".pick-one").checked).map((row) => row.dataset.instanceId);
  }
  function updateSelection() {
    const count = selectedIds().length;
    $("#selected-count").textContent = `${count} selected`;
    $("#act-selected").disabled = count === 0;
  }
  function wireBulkActions() {
    $("#select-all").addEventListener("change", (event) => {
      for (const box of document.querySelectorAll("#instances tbody .pick-one")) box.checked = event.target.checked;
      updateSelection();
    });
    $("#instances tbody").addEventListener("change", updateSelection);
    $("#act-selected").addEventListener("click", () => actOnSelected().catch((error) => show(error.message)));
    $("#act-all").addEventListener("click", () => actOnQuery().catch((error) => show(error.message)));
  }
  async function actOnSelected() {
    const operation = $("#bulk-operation").value;
    const ids = selectedIds();
    const reason = $("#bulk-reason").value.trim() || "from the monitor";
    if (operation === "purge" && !confirm(`Purge ${ids.length} instance(s) and their history? This cannot be undone.`)) return;
    let failed = 0;
    for (const id of ids) {
      const path = `/instances/${encodeURIComponent(id)}`;
      const call = operation === "purge" ? api("DELETE", path) : api("POST", `${path}/${operation}`, { query: operation === "restart" ? {} : { reason } });
      await call.catch(() => { failed += 1; });
    }
    show(`${operation} sent to ${ids.length - failed} of ${ids.length} selected instance(s).`, failed === 0);
    await loadInstancePage();
  }
  async function actOnQuery() {
    const since = mounted;
    const operation = $("#bulk-operation").value;
    const { runtimeStatus, top, order, ...rest } = list.filters;
    const query = { ...rest, operation };
    if (runtimeStatus.length) query.runtimeStatus = runtimeStatus.join(",");
    const { data: dry } = await api("POST", "/jobs", { query: { ...query, dryRun: "true" } });
    if (!confirm(`${operation} every instance these filters match: ${dry.matched} now?`)) return;
    const reason = $("#bulk-reason").value.trim() || "from the monitor";
    const { data: job } = await api("POST", "/jobs", { query: { ...query, reason } });
    if (since !== mounted) return;
    const progress = $("#job-progress");
    progress.hidden = false;
    let current = job;
    while (!["Completed", "Canceled"].includes(current.status)) {
      progress.textContent = `Job ${current.id}: ${current.status}, ${current.done} of ${current.matched} done, ${current.failed} failed`;
      await new Promise((resolve) => setTimeout(resolve, 500));
      ({ data: current } = await api("GET", `/jobs/${current.id}`));
      if (since !== mounted) return; // the job goes on; this page no longer shows it
    }
    progress.textContent = `Job ${current.id} ${current.status.toLowerCase()}: ${current.done} done, ${current.failed} failed`;
    progress.dataset.status = current.status;
    await loadInstancePage();
  }

  // The counts per status of the other filters, shown on each status chip (what ticking it would list).
  async function loadCounts() {
    const { runtimeStatus, top, order, ...rest } = list.filters;
    const since = mounted;
    const { data } = await api("GET", "/counts", { query: rest });
    if (since !== mounted) return;
    for (const label of document.querySelectorAll("#filters .statuses label")) {
      const status = label.querySelector("input").value;
      label.querySelector(".count").textContent = String((data || {})[status] ?? 0);
    }
    $("#total-count").textContent = `${(data || {}).total ?? 0} in all`;
  }

  // The histogram of the filtered instances' created times; a bar's click narrows the list to its span.
  async function loadHistogram() {
    const { top, order, runtimeStatus, ...rest } = list.filters;
    const query = { ...rest, buckets: "24" };
    if (runtimeStatus.length) query.runtimeStatus = runtimeStatus.join(",");
    const since = mounted;
    const { data } = await api("GET", "/histogram", { query });
    if (since !== mounted) return;
    const most = Math.max(1, ...data.counts);
    const start = time(data.from);
    const bars = data.counts.map((count, i) => {
      const from = new Date(start + i * data.bucketSeconds * 1000).toISOString();
      const to = new Date(start + (i + 1) * data.bucketSeconds * 1000).toISOString();
      const bar = el("button", { type: "button", class: "bar", title: `${count} created ${shown(from)} – ${shown(to)}`, dataset: { count: String(count), from, to } });
      bar.style.height = `${Math.round((count / most) * 100)}%`;
      bar.addEventListener("click", () => {
        const form = $("#filters");
        form.createdTimeFrom.value = isoToLocal(from);
        form.createdTimeTo.value = isoToLocal(new Date(time(to) + 1000).toISOString()); // the form keeps whole seconds
        location.hash = hashOfFilters(form);
      });
      return bar;
    });
    $("#histogram").replaceChildren(...bars);
    $("#histogram").dataset.total = String(data.total);
  }

  async function loadInstancePage() {
    const { runtimeStatus, top, ...rest } = list.filters;
    const token = list.tokens[list.page];
    const query = { ...rest, top, showInput: "false" };
    if (runtimeStatus.length) query.runtimeStatus = runtimeStatus.join(",");
    const since = mounted;
    const charted = loadHistogram().catch(() => since === mounted && $("#histogram").replaceChildren());
    const counted = loadCounts().catch(() => { // the list says what went wrong; the chips just go blank
      if (since !== mounted) return;
      for (const count of document.querySelectorAll("#filters .statuses .count")) count.textContent = "";
      $("#total-count").textContent = "";
    });
    const { data, headers } = await api("GET", "/instances", { query, headers: token ? { [CONTINUATION]: token } : {} });
    await counted;
    await charted;
    if (since !== mounted) return;
    const next = headers.get(CONTINUATION);
    list.tokens[list.page + 1] = next;
    list.tokens.length = list.page + 2;
    const rows = (data || []).map((item) =>
      el("tr", { dataset: { instanceId: item.instanceId } },
        el("td", { class: "pick" }, el("input", { type: "checkbox", class: "pick-one", "aria-label": `select ${item.instanceId}` })),
        el("td", { class: "id" }, el("a", { href: `#/instances/${encodeURIComponent(item.instanceId)}` }, item.instanceId)),
        el("td", {}, item.name),
        el("td", {}, statusBadge(item.runtimeStatus)),
        el("td", { class: "created" }, shown(item.createdTime)),
        el("td", {}, shown(item.lastUpdatedTime))));
    $("#instances tbody").replaceChildren(...rows);
    $("#select-all").checked = false;
    updateSelection();
    $("#no-instances").hidden = rows.length > 0;
    $("#prev-page").disabled = list.page === 0;
    $("#next-page").disabled = !next;
    $("#page-number").textContent = `Page ${list.page + 1}`;
  }

  // ---- one instance -------------------------------------------------------------------------
  let refreshTimer = null;
  function stopRefreshing() {
    clearInterval(refreshTimer);
    refreshTimer = null;
  }

  async function showInstance(instanceId) {
    mount("tpl-instance");
    const path = `/instances/${encodeURIComponent(instanceId)}`;
    const reload = () => loadInstance(path).catch((error) => { stopRefreshing(); show(error.message); });
    const auto = $("#auto-refresh");
    const follow = () => {
      stopRefreshing();
      if (auto.checked && !auto.disabled) refreshTimer = setInterval(reload, 2000);
    };
    auto.addEventListener("change", follow);
    $("#reload").addEventListener("click", reload);
    for (const button of view.querySelectorAll("[data-action]")) {
      button.addEventListener("click", () =>
        act(button.dataset.action, path, instanceId).then((stay) => stay && reload(), (e) => show(e.message)));
    }
    $("#raise-form").addEventListener("submit", (event) => {
      event.preventDefault();
      raise(event.target, path).then(reload, (e) => show(e.message));
    });
    await loadInstance(path);
    follow();
  }

  async function loadInstance(path) {
    const query = { showHistory: "true", showHistoryOutput: "true", showInput: "true", showPending: "true" };
    const since = mounted;
    const { data } = await api("GET", path, { query }).catch((error) => {
      const id = decodeURIComponent(path.split("/").pop());
      throw error.status === 404 ? new Error(`No instance '${id}' in this task hub: it was purged, or never started.`) : error;
    });
    if (since !== mounted) return;
    $("#i-name").textContent = data.name;
    $("#i-status").replaceWith(Object.assign(statusBadge(data.runtimeStatus), { id: "i-status" }));
    $("#i-id").textContent = data.instanceId;
    $("#i-created").textContent = shown(data.createdTime);
    $("#i-updated").textContent = shown(data.lastUpdatedTime);
    showValue($("#i-input"), data.input);
    showValue($("#i-output"), data.output);
    showValue($("#i-custom"), data.customStatus);
    const history = data.historyEvents || [];
    renderTimeline($("#timeline"), data, history);
    renderSequence($("#sequence"), data, history);
    renderHistory($("#history tbody"), history);
    enableActions(data.runtimeStatus);
  }

  function enableActions(status) {
    const running = ["Running", "Pending", "Suspended", "ContinuedAsNew"].includes(status);
    const allowed = {
      terminate: running,
      suspend: status === "Running" || status === "Pending",
      resume: status === "Suspended",
      rewind: status === "Failed",
      restart: !running,
      purge: !running,
    };
    for (const button of view.querySelectorAll("[data-action]")) button.disabled = !allowed[button.dataset.action];
    $("#raise-form button").disabled = !running;
    const auto = $("#auto-refresh");
    auto.disabled = !running; // a finished instance no longer changes
    if (!running) stopRefreshing();
  }

  async function act(action, path, instanceId) {
    const reason = $("#reason").value.trim() || `from the monitor`;
    if (action === "purge") {
      if (!confirm(`Purge ${instanceId} and its history? This cannot be undone.`)) return false;
      await api("DELETE", path);
      show(`Purged ${instanceId}.`, true);
      location.hash = "#/instances";
      return false;
    }
    const query = action === "restart" ? {} : { reason };
    const { data } = await api("POST", `${path}/${action}`, { query });
    const restartedId = action === "restart" && data && data.id;
    show(restartedId && restartedId !== instanceId ? `Restarted as ${restartedId}.` : `${action[0].toUpperCase()}${action.slice(1)} sent.`, true);
    return true;
  }

  async function raise(form, path) {
    const name = form.eventName.value.trim();
    const text = form.eventData.value.trim();
    if (text) {
      try { JSON.parse(text); } catch (error) { throw new Error(`The event data is not JSON: ${error.message}`); }
    }
    await api("POST", `${path}/raiseEvent/${encodeURIComponent(name)}`, { body: text || "null" });
    show(`Event '${name}' raised.`, true);
  }

  // The sequence diagram: the orchestration's messages to and from its activities, sub-orchestrations,
  // entities and the outside, in the order they happened.
  function sequenceMessages(data, history) {
    const names = [data.name];
    const kinds = ["orchestration"];
    const at = (name, kind) => {
      if (!names.includes(name)) { names.push(name); kinds.push(kind); }
      return names.indexOf(name);
    };
    const messages = [];
    const call = (target, kind, label, when) => messages.push({ from: 0, to: at(target, kind), label, when });
    for (const event of history) {
      const when = time(event.Timestamp);
      switch (event.EventType) {
        case "TaskCompleted": case "TaskFailed": case "SubOrchestrationInstanceCompleted": case "SubOrchestrationInstanceFailed": {
          const kind = event.EventType.startsWith("Task") ? "activity" : "suborchestration";
          const failed = event.EventType.endsWith("Failed");
          call(event.FunctionName, kind, event.FunctionName, time(event.ScheduledTime) ?? when);
          messages.push({ from: at(event.FunctionName, kind), to: 0, label: failed ? "failed" : "result", when, failed });
          break;
        }
        case "TaskScheduled": case "SubOrchestrationInstanceCreated":
          call(event.FunctionName, event.EventType === "TaskScheduled" ? "activity" : "suborchestration", `${event.FunctionName} (running)`, when);
          break;
        case "EventSent":
          call(event.InstanceId || event.Name, event.InstanceId && event.InstanceId.startsWith("@") ? "entity" : "instance", event.Name || "event", when);
          break;
        case "EventRaised":
          messages.push({ from: at("outside", "outside"), to: 0, label: event.Name || "event", when });
          break;
        default:
      }
    }
    messages.sort((a, b) => (a.when ?? 0) - (b.when ?? 0));
    return { names, kinds, messages };
  }

  function renderSequence(container, data, history) {
    const { names, kinds, messages } = sequenceMessages(data, history);
    const ns = "http://www.w3.org/2000/svg";
    const svg = (tag, attrs, text) => {
      const node = document.createElementNS(ns, tag);
      for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
      if (text !== undefined) node.textContent = text;
      return node;
    };
    const column = 170;
    const x = (i) => column / 2 + i * column;
    const height = 50 + messages.length * 26;
    const root = svg("svg", { width: Math.max(column * names.length, 300), height, role: "img", "aria-label": "sequence diagram" });
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "head" }));
    const defs = svg("defs", {});
    defs.append(marker);
    root.append(defs);
    names.forEach((name, i) => {
      const group = svg("g", { class: `participant ${kinds[i]}`, "data-name": name });
      group.append(svg("text", { x: x(i), y: 16, "text-anchor": "middle" }, name.length > 24 ? `${name.slice(0, 22)}…` : name));
      group.append(svg("line", { x1: x(i), y1: 24, x2: x(i), y2: height - 4, class: "lifeline" }));
      root.append(group);
    });
    messages.forEach((message, row) => {
      const y = 46 + row * 26;
      const group = svg("g", { class: `message${message.failed ? " failed" : ""}` });
      group.append(svg("line", { x1: x(message.from), y1: y, x2: x(message.to), y2: y, "marker-end": "url(#arrow)" }));
      group.append(svg("text", { x: (x(message.from) + x(message.to)) / 2, y: y - 5, "text-anchor": "middle" }, message.label));
      root.append(group);
    });
    container.replaceChildren(messages.length ? root : el("p", { class: "empty" }, "No messages yet."));
  }

  // The timeline: one lane per activity, sub-orchestration, timer and event, on one time axis.
  function timelineItems(data, history) {
    const start = time((history.find((e) => e.EventType === "ExecutionStarted") || {}).Timestamp) ?? time(data.createdTime);
    const finished = history.find((e) => e.EventType === "ExecutionCompleted" || e.EventType === "ExecutionTerminated");
    const running = ["Running", "Pending", "Suspended", "ContinuedAsNew"].includes(data.runtimeStatus);
    const lastEvent = Math.max(start, ...history.map((e) => time(e.Timestamp) ?? start));
    const end = finished ? time(finished.Timestamp) : running ? Math.max(Date.now(), lastEvent) : lastEvent;
    const failed = data.runtimeStatus === "Failed";
    const items = [{ kind: "orchestration", label: data.name, from: start, to: end, pending: running && !finished, failed }];
    const fired = new Set(history.filter((e) => e.EventType === "TimerFired").map((e) => e.FireAt));
    for (const event of history) {
      const at = time(event.Timestamp);
      switch (event.EventType) {
        case "TaskCompleted": case "TaskFailed":
          items.push({ kind: "activity", label: event.FunctionName, from: time(event.ScheduledTime) ?? at, to: at, failed: event.EventType === "TaskFailed" });
          break;
        case "SubOrchestrationInstanceCompleted": case "SubOrchestrationInstanceFailed":
          items.push({ kind: "suborchestration", label: event.FunctionName, from: time(event.ScheduledTime) ?? at, to: at, failed: event.EventType.endsWith("Failed") });
          break;
        case "TimerCreated": {
          const due = time(event.FireAt) ?? at;
          const didFire = fired.has(event.FireAt);
          const canceled = !didFire && !running; // the orchestration ended before the timer was due
          const label = `timer until ${shown(event.FireAt)}${canceled ? " (canceled)" : ""}`;
          items.push({ kind: "timer", label, from: at, to: canceled ? Math.min(due, end) : due, pending: !didFire && running, canceled });
          break;
        }
        case "TaskScheduled": // still running (the API lists it only until its completion)
          items.push({ kind: "activity", label: event.FunctionName, from: at, to: end, pending: true });
          break;
        case "SubOrchestrationInstanceCreated":
          items.push({ kind: "suborchestration", label: event.FunctionName, from: at, to: end, pending: true, instanceId: event.InstanceId });
          break;
        case "EventRaised":
          items.push({ kind: "event", label: `event ${event.Name}`, from: at, to: at });
          break;
        default:
      }
    }
    return { items, start, end };
  }

  function renderTimeline(container, data, history) {
    const { items, start, end } = timelineItems(data, history);
    const span = Math.max(end - start, 1);
    const position = (ms) => `${Math.min(100, Math.max(0, ((ms - start) / span) * 100)).toFixed(3)}%`;
    const rows = items.map((item) => {
      const bar = el("div", {
        class: ["bar", item.kind, item.failed ? "failed" : "", item.pending ? "pending" : "", item.canceled ? "canceled" : ""].join(" ").trim(),
        title: `${item.label}: ${shown(new Date(item.from).toISOString())} → ${shown(new Date(item.to).toISOString())}`,
        dataset: { kind: item.kind, label: item.label },
      });
      bar.style.left = position(item.from);
      if (item.kind !== "event") bar.style.width = `calc(${position(Math.min(item.to, end))} - ${position(item.from)})`;
      const took = item.kind === "event" ? "" : duration(Math.max(0, item.to - item.from));
      const label = item.instanceId
        ? el("a", { class: "label", title: item.instanceId, href: `#/instances/${encodeURIComponent(item.instanceId)}` }, item.label)
        : el("span", { class: "label", title: item.label }, item.label);
      return el("div", { class: "row" }, label, el("div", { class: "lane" }, bar), el("span", { class: "duration" }, item.pending && item.kind !== "timer" ? `${took} so far` : took));
    });
    const ticks = el("div", { class: "ticks" }, ...[0, 0.25, 0.5, 0.75, 1].map((f) => el("span", {}, duration(span * f))));
    const legend = el("div", { class: "legend" }, ...[["activity", "var(--completed)"], ["sub-orchestration", "var(--terminated)"], ["timer", "var(--timer)"], ["event", "var(--event)"], ["failed", "var(--failed)"]].map(([name, color]) => el("span", {}, Object.assign(el("i"), { style: `background:${color}` }), name)));
    container.replaceChildren(...rows, el("div", { class: "axis" }, el("span"), ticks, el("span")), legend);
  }

  function renderHistory(tbody, history) {
    tbody.replaceChildren(...history.map((event) => {
      const { EventType, Timestamp, FunctionName, Name, ...rest } = event;
      const details = Object.entries(rest).filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join("\n");
      return el("tr", {}, el("td", {}, shown(Timestamp)), el("td", {}, EventType), el("td", {}, FunctionName || Name || ""), el("td", { class: "state mono" }, details));
    }));
  }

  // ---- entities -----------------------------------------------------------------------------
  async function showEntities(params) {
    mount("tpl-entities");
    const form = $("#entity-filters");
    const entityName = params.get("entityName") || "";
    form.entityName.value = entityName;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = form.entityName.value.trim();
      location.hash = name ? `#/entities?entityName=${encodeURIComponent(name)}` : "#/entities";
    });
    let token = null;
    const path = entityName ? `/entities/${encodeURIComponent(entityName)}` : "/entities";
    const more = $("#more-entities");
    const load = async (append) => {
      const since = mounted;
      const { data, headers } = await api("GET", path, { query: { fetchState: "true", top: "50" }, headers: token ? { [CONTINUATION]: token } : {} });
      if (since !== mounted) return;
      token = headers.get(CONTINUATION);
      const rows = (data || []).map((item) => el("tr", { dataset: { entity: `${item.entityId.name}@${item.entityId.key}` } },
        el("td", {}, item.entityId.name), el("td", { class: "id" }, item.entityId.key),
        el("td", {}, shown(item.lastOperationTime)), el("td", { class: "state mono" }, pretty(item.state))));
      const tbody = $("#entities tbody");
      if (append) tbody.append(...rows); else tbody.replaceChildren(...rows);
      $("#no-entities").hidden = tbody.children.length > 0;
      more.hidden = !token;
    };
    more.addEventListener("click", () => load(true).catch((e) => show(e.message)));
    await load(false);
  }

  // ---- routing ------------------------------------------------------------------------------
  async function route() {
    stopRefreshing();
    const hash = location.hash || "#/instances";
    const [path, query = ""] = hash.slice(1).split("?");
    const params = new URLSearchParams(query);
    const parts = path.split("/").filter(Boolean);
    for (const link of document.querySelectorAll(".top nav a")) link.classList.toggle("active", link.id === `nav-${parts[0] || "instances"}`);
    if (!sticky) show("");
    sticky = false;
    try {
      if (parts[0] === "entities") await showEntities(params);
      else if (parts[0] === "functions") await showFunctions();
      else if (parts[0] === "instances" && parts.length > 1) await showInstance(decodeURIComponent(parts.slice(1).join("/")));
      else await showInstances(params);
      document.body.dataset.ready = hash;
    } catch (error) {
      show(error.message);
      document.body.dataset.ready = hash;
    }
  }
  // ---- the function graph: each orchestrator, what its newest run called, and its live counts ----------
  async function showFunctions() {
    mount("tpl-functions");
    await loadGraph();
    refreshTimer = setInterval(() => loadGraph().catch((error) => { stopRefreshing(); show(error.message); }), 5000);
  }

  async function calleesOf(name) {
    const { data: newest } = await api("GET", "/instances", { query: { name, order: "newest", top: "1", showInput: "false" } });
    if (!newest || !newest.length) return [];
    const path = `/instances/${encodeURIComponent(newest[0].instanceId)}`;
    const { data } = await api("GET", path, { query: { showHistory: "true", showHistoryOutput: "false", showInput: "false", showPending: "true" } });
    const { names, kinds } = sequenceMessages(data, data.historyEvents || []);
    return names.slice(1).map((callee, i) => ({ name: callee, kind: kinds[i + 1] })).filter((c) => c.kind !== "outside");
  }

  async function loadGraph() {
    const since = mounted;
    const { data: functions } = await api("GET", "/functions");
    const cards = await Promise.all(functions.orchestrators.map(async (name) => {
      const [{ data: counts }, callees] = await Promise.all([api("GET", "/counts", { query: { name } }), calleesOf(name)]);
      const chips = ["Running", "Pending", "Suspended", "Completed", "Failed", "Terminated"]
        .filter((status) => counts[status])
        .map((status) => el("a", { class: `chip ${status}`, href: `#/instances?name=${encodeURIComponent(name)}&runtimeStatus=${status}`, dataset: { status, count: String(counts[status]) } }, `${status} ${counts[status]}`));
      const calls = callees.map((callee) => el("li", { class: `callee ${callee.kind}`, dataset: { name: callee.name } }, callee.name));
      return el("div", { class: "orchestrator", dataset: { name, total: String(counts.total) } },
        el("h3", {}, el("a", { href: `#/instances?name=${encodeURIComponent(name)}` }, name)),
        el("div", { class: "chips" }, ...(chips.length ? chips : [el("span", { class: "none" }, "no instances")])),
        el("ul", { class: "calls" }, ...calls));
    }));
    if (since === mounted) $("#graph").replaceChildren(...cards);
  }

  // ---- the host's own state (storage reachable, worker running), from /admin/host/status ----------
  const hostState = document.getElementById("host-state");
  async function checkHost() {
    let message = "";
    try {
      const response = await fetch(new URL("/admin/host/status", location.origin), { headers: key ? { "x-functions-key": key } : {} });
      if (response.ok) {
        const status = await response.json();
        if (status.state !== "Running") message = `Host ${status.state}: ${(status.errors || []).join(" ") || "the task hub worker has not started yet"}`;
      }
    } catch (error) {
      message = `The host does not answer: ${error.message}`;
    }
    hostState.textContent = message;
    hostState.hidden = !message;
    hostState.dataset.checked = "true";
  }
  checkHost();
  setInterval(checkHost, 5000);
  window.addEventListener("hashchange", route);
  route();
})();
