// Checks what scripts/check-deploy rendered and the deploy/ files that are not Kubernetes objects:
//
//   node check-manifests.mjs --repo DIR --tools DIR --render NAME=FILE [--render NAME=FILE ...]
//
// 1. Every rendered object is valid against the Kubernetes schemas of npm `kubernetes-models` (types, required
//    fields, formats, enums) and has no unknown field (a TypeScript excess-property check against the same
//    package's types: a mis-indented or misspelt key fails here, which the JSON schemas alone let through).
// 2. The objects fit together: selectors match pod labels, Services, ports, ConfigMaps, Secrets and HPA targets
//    exist, every Marquee flag and MARQUEE_* variable is one src/core/config.cpp knows, the six services and the
//    gateway have their probes and a non-root, read-only pod, and the Ingress sends every /api/v1 path of
//    api/openapi.yaml to the service that owns it (its OpenAPI tag) and the web app's paths to the gateway, and
//    leaves /healthz, /readyz and /metrics unrouted, choosing among regex paths as ingress-nginx does.
// 3. deploy/docker/compose.yaml parses and its references and MARQUEE_* names hold; the Dockerfile's inputs
//    exist and pass .dockerignore, and the image carries the web app where MARQUEE_WEB_DIR points.
// 4. Every metric named in deploy/monitoring (alert rules, dashboard) is registered in src/, or is listed in
//    deploy/monitoring/pending-metrics.txt as one a change in flight adds.
// Prints one line per problem and exits 1 if there is any.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const repo = path.resolve(opt("--repo") ?? ".");
const tools = path.resolve(opt("--tools") ?? path.join(repo, ".local/deploy-tools"));
const renders = [];
args.forEach((a, i) => {
  if (a === "--render") {
    const [name, file] = args[i + 1].split("=");
    renders.push({ name, file });
  }
});

const require = createRequire(path.join(tools, "package.json"));
const YAML = require("yaml");
const ts = require("typescript");

const problems = [];
const problem = (where, text) => problems.push(`${where}: ${text}`);
const read = (rel) => fs.readFileSync(path.join(repo, rel), "utf8");

// ---- what the code knows ---------------------------------------------------------------------------------
const configCpp = read("src/core/config.cpp");
const marqueeFlags = new Map(); // flag -> env
for (const m of configCpp.matchAll(/\{"([a-z0-9-]+)", "(MARQUEE_[A-Z0-9_]+)"/g)) marqueeFlags.set(m[1], m[2]);
const marqueeEnv = new Set(marqueeFlags.values());
const serviceNames = [...read("src/core/config.hpp").matchAll(/kServiceNames\[\] = \{([^}]*)\}/g)]
  .flatMap((m) => [...m[1].matchAll(/"([a-z]+)"/g)].map((x) => x[1]));
const pgSimFlags = new Set([...read("src/pg_sim/options.cpp").matchAll(/flag == "--([a-z-]+)"/g)].map((m) => m[1]));
if (marqueeFlags.size < 20 || serviceNames.length < 6 || pgSimFlags.size < 3) {
  problem("check-manifests", "could not read the flags from src/core/config.cpp or src/pg_sim/options.cpp");
}
const apiServices = ["auth", "queue", "catalog", "wallet", "booking", "payment"];
// The gateway serves the web app's static files (src/services/gateway) and reads no data service: its pods have
// no datastore Secret or egress, so they are ready when alive (/healthz), not when PostgreSQL answers (/readyz).
const webServices = ["gateway"];
const deployedServices = [...apiServices, ...webServices];
// Samples of the gateway's routes (/, /app/{file}, /app/{folder}/{file}) and of what no route may expose.
const webPaths = ["/", "/app/app.js", "/app/assets/logo.svg"];
const unroutedPaths = ["/healthz", "/readyz", "/metrics"];
// Secrets made by hand or by a secret manager (base/kustomization.yaml, docs/deploy.md); never rendered.
const externalSecrets = new Set([
  "marquee-datastores", "marquee-jwt-public", "marquee-jwt-signing", "marquee-queue-secret", "marquee-tls",
]);

function checkMarqueeArgs(where, container) {
  const isPgSim = (container.command ?? []).some((c) => c.endsWith("pg-sim"));
  for (const a of container.args ?? []) {
    if (a === "--migrate-only" && !isPgSim) continue;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (!m) { problem(where, `argument '${a}' is not --flag=value`); continue; }
    if (isPgSim) {
      if (!pgSimFlags.has(m[1]) && a !== "--down") problem(where, `pg-sim has no flag --${m[1]}`);
      continue;
    }
    if (!marqueeFlags.has(m[1])) problem(where, `marquee has no flag --${m[1]} (src/core/config.cpp)`);
    if (m[1] === "service") {
      for (const s of (m[2] ?? "").split(",")) {
        if (s !== "all" && !serviceNames.includes(s)) problem(where, `unknown service '${s}'`);
      }
    }
  }
}
function checkEnvName(where, name) {
  if (name.startsWith("MARQUEE_") && !marqueeEnv.has(name)) {
    problem(where, `${name} is not a variable of src/core/config.cpp`);
  }
}

// ---- 1. schemas --------------------------------------------------------------------------------------------
function modelPath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

const all = []; // { render, doc, where }
for (const { name, file } of renders) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const d of docs) {
    if (d.errors.length) { problem(name, `YAML: ${d.errors[0].message}`); continue; }
    const doc = d.toJS();
    if (!doc) continue;
    // kustomize v5 folds long base64 values over lines; the API server's decoder skips the newlines.
    for (const field of ["data", "binaryData"]) {
      if (doc.kind === "Secret" || (doc.kind === "ConfigMap" && field === "binaryData")) {
        for (const [k, v] of Object.entries(doc[field] ?? {})) doc[field][k] = String(v).replace(/[\r\n]/g, "");
      }
    }
    const where = `${name}: ${doc.kind ?? "?"}/${doc.metadata?.name ?? "?"}`;
    all.push({ render: name, doc, where });
    if (!doc.apiVersion || !doc.kind) { problem(where, "no apiVersion or kind"); continue; }
    let Model;
    try {
      Model = require(modelPath(doc.apiVersion, doc.kind))[doc.kind];
    } catch {
      problem(where, `${doc.apiVersion} ${doc.kind} is not a Kubernetes kind kubernetes-models knows`);
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (e) {
      problem(where, `schema: ${String(e.message).split("\n").slice(0, 4).join("; ")}`);
    }
  }
}

// Unknown fields: one TypeScript program that assigns every object to its kind's interface, so TypeScript's
// excess-property check names any key the kind does not have, at any depth.
{
  const dir = path.join(tools, "check");
  fs.mkdirSync(dir, { recursive: true });
  const imports = [];
  const body = [];
  const owners = []; // line of body -> the object it belongs to
  all.forEach(({ doc, where }, i) => {
    if (!doc.apiVersion || !doc.kind) return;
    const spec = modelPath(doc.apiVersion, doc.kind);
    try { require.resolve(spec); } catch { return; } // reported above
    imports.push(`import type { I${doc.kind} as T${i} } from "${spec}";`);
    const lines = JSON.stringify(doc, null, 1).split("\n");
    lines[0] = `export const o${i}: T${i} = ${lines[0]}`;
    lines[lines.length - 1] += ";";
    for (const l of lines) { body.push(l); owners.push(where); }
  });
  const file = path.join(dir, "manifests.ts");
  fs.writeFileSync(file, [...imports, ...body].join("\n") + "\n");
  const program = ts.createProgram([file], {
    noEmit: true, strict: true, skipLibCheck: true, module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10, target: ts.ScriptTarget.ES2020, types: [],
  });
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, " ");
    let where = "typescript";
    let at = "";
    if (d.file && d.start !== undefined) {
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      where = owners[line - imports.length] ?? where;
      at = ` (at ${d.file.text.split("\n")[line].trim().slice(0, 80)})`;
    }
    problem(where, `fields: ${text.slice(0, 300)}${at}`);
  }
}

// ---- 2. the objects fit together --------------------------------------------------------------------------
const matches = (selector, labels) =>
  Object.entries(selector?.matchLabels ?? selector ?? {}).every(([k, v]) => labels?.[k] === v);

for (const render of renders.map((r) => r.name)) {
  const objs = all.filter((o) => o.render === render).map((o) => ({ ...o.doc, where: o.where }));
  const named = (kind, name) => objs.find((o) => o.kind === kind && o.metadata?.name === name);
  const workloads = objs.filter((o) => ["Deployment", "Job", "StatefulSet"].includes(o.kind));
  const ns = objs.find((o) => o.kind === "Namespace")?.metadata?.name;
  if (!ns) problem(render, "no Namespace object");

  for (const o of objs) {
    if (o.kind !== "Namespace" && o.metadata?.namespace !== ns) {
      problem(o.where, `namespace '${o.metadata?.namespace}', expected '${ns}'`);
    }
  }
  for (const w of workloads) {
    const tpl = w.spec?.template;
    const labels = tpl?.metadata?.labels ?? {};
    if (w.kind !== "Job" && !matches(w.spec?.selector, labels)) problem(w.where, "selector does not match the pod labels");
    const pod = tpl?.spec ?? {};
    const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
    for (const v of pod.volumes ?? []) {
      if (v.secret && !named("Secret", v.secret.secretName) && !externalSecrets.has(v.secret.secretName)) {
        problem(w.where, `volume ${v.name}: no Secret ${v.secret.secretName}`);
      }
      if (v.configMap && !named("ConfigMap", v.configMap.name)) problem(w.where, `volume ${v.name}: no ConfigMap ${v.configMap.name}`);
    }
    for (const c of pod.containers ?? []) {
      const cw = `${w.where} container ${c.name}`;
      for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) problem(cw, `mounts unknown volume ${m.name}`);
      for (const e of c.env ?? []) checkEnvName(cw, e.name);
      for (const src of c.envFrom ?? []) {
        const ref = src.configMapRef ?? src.secretRef;
        const kind = src.configMapRef ? "ConfigMap" : "Secret";
        const target = named(kind, ref?.name);
        if (!target && !(kind === "Secret" && externalSecrets.has(ref?.name))) problem(cw, `envFrom: no ${kind} ${ref?.name}`);
        for (const key of Object.keys({ ...(target?.data ?? {}), ...(target?.stringData ?? {}) })) checkEnvName(`${cw} (${kind} ${ref.name})`, key);
      }
      const isMarquee = /(^|\/)marquee(:|@|$)/.test(c.image ?? "");
      if (isMarquee) checkMarqueeArgs(cw, c);
      const service = /--service=([a-z]+)$/.exec((c.args ?? []).join(" "))?.[1];
      if (isMarquee && w.kind === "Deployment" && deployedServices.includes(service)) {
        const ready = webServices.includes(service) ? "/healthz" : "/readyz";
        if (c.readinessProbe?.httpGet?.path !== ready) problem(cw, `readiness probe must GET ${ready}`);
        if (c.livenessProbe?.httpGet?.path !== "/healthz") problem(cw, "liveness probe must GET /healthz");
        if (!c.resources?.requests || !c.resources?.limits) problem(cw, "needs resource requests and limits");
        const sc = c.securityContext ?? {};
        if (sc.readOnlyRootFilesystem !== true) problem(cw, "root filesystem must be read-only");
        if (sc.allowPrivilegeEscalation !== false) problem(cw, "allowPrivilegeEscalation must be false");
        if (!(pod.securityContext?.runAsNonRoot || sc.runAsNonRoot)) problem(cw, "must run as non-root");
        for (const kind of ["HorizontalPodAutoscaler", "PodDisruptionBudget"]) {
          if (!objs.some((o) => o.kind === kind && (o.spec?.scaleTargetRef?.name === w.metadata.name || (o.spec?.selector && matches(o.spec.selector, labels))))) {
            problem(w.where, `no ${kind}`);
          }
        }
      }
    }
  }
  for (const d of deployedServices) {
    if (!named("Deployment", `marquee-${d}`)) problem(render, `no Deployment marquee-${d}`);
  }
  // The migration Job runs before the rollout (docs/deploy.md: `kubectl apply -l marquee.dev/apply-first=true`):
  // it, its namespace and the ConfigMaps and Secrets it reads must all carry that label.
  const migrate = workloads.find((w) => w.kind === "Job" && (w.spec.template.spec.containers ?? []).some((c) => (c.args ?? []).includes("--migrate-only")));
  if (!migrate) problem(render, "no migration Job (--migrate-only)");
  const first = (o) => o?.metadata?.labels?.["marquee.dev/apply-first"] === "true";
  if (migrate) {
    const needed = [migrate, objs.find((o) => o.kind === "Namespace")];
    for (const c of migrate.spec.template.spec.containers ?? []) {
      for (const src of c.envFrom ?? []) needed.push(named(src.configMapRef ? "ConfigMap" : "Secret", (src.configMapRef ?? src.secretRef).name));
    }
    for (const o of needed) if (o && !first(o)) problem(o.where, "the migration Job needs it first: label it marquee.dev/apply-first=\"true\"");
  }
  const podsOf = (selector) => workloads.filter((w) => matches(selector, w.spec?.template?.metadata?.labels));
  for (const s of objs.filter((o) => o.kind === "Service" && o.spec?.type !== "ExternalName")) {
    const pods = podsOf(s.spec?.selector ?? {});
    if (!s.spec?.selector || pods.length === 0) { problem(s.where, "selects no pods"); continue; }
    for (const p of s.spec.ports ?? []) {
      if (typeof p.targetPort === "string" && !pods.some((w) => w.spec.template.spec.containers.some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort)))) {
        problem(s.where, `targetPort ${p.targetPort} is no container port of the pods it selects`);
      }
    }
  }
  for (const h of objs.filter((o) => o.kind === "HorizontalPodAutoscaler")) {
    if (!named(h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name)) problem(h.where, `no ${h.spec.scaleTargetRef.kind} ${h.spec.scaleTargetRef.name}`);
  }
  for (const p of objs.filter((o) => o.kind === "PodDisruptionBudget")) {
    if (podsOf(p.spec.selector).length === 0) problem(p.where, "selects no pods");
  }
  // Ingress: backends exist, and every /api/v1 path reaches its owner the way ingress-nginx picks (regex
  // locations, longest path first, case-insensitive, anchored at the start).
  const routes = [];
  for (const ing of objs.filter((o) => o.kind === "Ingress")) {
    for (const rule of ing.spec?.rules ?? []) {
      for (const p of rule.http?.paths ?? []) {
        const svc = named("Service", p.backend?.service?.name);
        if (!svc) { problem(ing.where, `path ${p.path}: no Service ${p.backend?.service?.name}`); continue; }
        const port = p.backend.service.port;
        if (!(svc.spec.ports ?? []).some((sp) => (port.name ? sp.name === port.name : sp.port === port.number))) {
          problem(ing.where, `path ${p.path}: Service ${svc.metadata.name} has no port ${port.name ?? port.number}`);
        }
        routes.push({ path: p.path, service: svc.metadata.name });
      }
    }
  }
  routes.sort((a, b) => b.path.length - a.path.length);
  const openapi = YAML.parse(read("api/openapi.yaml"));
  for (const [p, ops] of Object.entries(openapi.paths ?? {})) {
    if (!p.startsWith("/api/v1/")) continue;
    const tag = Object.values(ops).find((op) => op?.tags)?.tags?.[0];
    const sample = p.replace(/\{[^}]+\}/g, "42");
    const hit = routes.find((r) => new RegExp("^" + r.path, "i").test(sample));
    if (!hit) problem(`${render}: Ingress`, `${p} is not routed`);
    else if (hit.service !== `marquee-${tag}`) problem(`${render}: Ingress`, `${p} goes to ${hit.service}, but its owner is ${tag}`);
  }
  for (const p of webPaths) {
    const hit = routes.find((r) => new RegExp("^" + r.path, "i").test(p));
    if (hit?.service !== "marquee-gateway") problem(`${render}: Ingress`, `${p} (the web app) goes to ${hit?.service ?? "no service"}, not marquee-gateway`);
  }
  for (const p of unroutedPaths) {
    const hit = routes.find((r) => new RegExp("^" + r.path, "i").test(p));
    if (hit) problem(`${render}: Ingress`, `${p} is routed to ${hit.service}: operational endpoints stay inside the cluster`);
  }
}

// ---- 3. compose -------------------------------------------------------------------------------------------
{
  const where = "deploy/docker/compose.yaml";
  const doc = YAML.parseDocument(read(where), { merge: true });
  if (doc.errors.length) problem(where, `YAML: ${doc.errors[0].message}`);
  const compose = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const services = compose.services ?? {};
  const volumes = new Set(Object.keys(compose.volumes ?? {}));
  if (!["postgres", "redis", "nats", "pg-sim", "marquee"].every((s) => s in services)) {
    problem(where, "needs the services postgres, redis, nats, pg-sim and marquee");
  }
  for (const [name, s] of Object.entries(services)) {
    const sw = `${where} ${name}`;
    if (!s.image && !s.build) problem(sw, "no image or build");
    for (const dep of Object.keys(s.depends_on ?? {})) if (!(dep in services)) problem(sw, `depends on unknown service ${dep}`);
    for (const v of s.volumes ?? []) {
      const src = String(v).split(":")[0];
      if (!src.startsWith(".") && !src.startsWith("/") && !volumes.has(src)) problem(sw, `unknown volume ${src}`);
    }
    for (const key of Object.keys(s.environment ?? {})) checkEnvName(sw, key);
    if (/marquee/.test(s.image ?? "") && !s.entrypoint) checkMarqueeArgs(sw, { args: s.command ?? [] });
    if (s.entrypoint && String(s.entrypoint).includes("pg-sim")) checkMarqueeArgs(sw, { command: s.entrypoint, args: s.command ?? [] });
  }
}

// ---- 3b. Dockerfile (no Docker engine in CI: its inputs are checked instead) ----------------------------------
{
  const where = "deploy/docker/Dockerfile";
  const text = read(where).replace(/\\\n/g, " ");
  const allowed = read(".dockerignore").split("\n").filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/$/, ""));
  for (const line of text.split("\n")) {
    const m = /^\s*COPY\s+(?!--from)(.*)$/.exec(line);
    if (m) {
      const parts = m[1].trim().split(/\s+/);
      for (const src of parts.slice(0, -1)) {
        if (!fs.existsSync(path.join(repo, src))) problem(where, `COPY ${src}: no such file in the repository`);
        if (!allowed.some((a) => src === a || src.startsWith(a + "/"))) problem(where, `COPY ${src}: excluded by .dockerignore`);
      }
    }
    const j = /^\s*(?:HEALTHCHECK.*CMD|ENTRYPOINT|CMD)\s+(\[.*\])\s*$/.exec(line);
    if (j) { try { JSON.parse(j[1]); } catch (e) { problem(where, `not a JSON array: ${j[1].slice(0, 60)}`); } }
  }
  if (!/--build-only\b/.test(read("scripts/setup-packages"))) problem(where, "scripts/setup-packages has no --build-only");
  // `--service=all` and `--service=gateway` serve web/ from MARQUEE_WEB_DIR: the image must carry it there.
  const webDir = /\bMARQUEE_WEB_DIR=(\S+)/.exec(text)?.[1]?.replace(/\/$/, "");
  const webCopy = /^\s*COPY\s+web\/?\s+(\S+?)\/?\s*$/m.exec(text)?.[1];
  if (!webDir) problem(where, "no ENV MARQUEE_WEB_DIR: the gateway would serve no web app");
  else if (webCopy !== webDir) problem(where, `MARQUEE_WEB_DIR=${webDir}, but web/ is not copied there`);
}

// ---- 4. metrics named by the alerts and the dashboard ----------------------------------------------------
{
  const registered = new Set();
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(cpp|hpp)$/.test(e.name) && !/_(test|dbtest)\.cpp$/.test(e.name)) {
        const text = fs.readFileSync(p, "utf8");
        for (const m of text.matchAll(/\b(counter|gauge|histogram)\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"/g)) {
          registered.add(m[2]);
          if (m[1] === "histogram") for (const s of ["_bucket", "_sum", "_count"]) registered.add(m[2] + s);
        }
      }
    }
  };
  walk(path.join(repo, "src"));
  const names = (file) => new Set(read(file).split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean));
  const pendingFile = "deploy/monitoring/pending-metrics.txt";
  const pending = names(pendingFile);
  const external = names("deploy/monitoring/external-metrics.txt");
  const expand = (n) => [n, `${n}_bucket`, `${n}_sum`, `${n}_count`];
  const known = (n) => registered.has(n) || external.has(n) || [...pending].some((p) => expand(p).includes(n));

  const keywords = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan", "le", "vector", "scalar", "time"]);
  const metricsIn = (expr) => {
    const e = expr
      .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, " ")    // strings
      .replace(/\{[^}]*\}/g, " ")                           // label matchers
      .replace(/\[[^\]]*\]/g, " ")                          // ranges
      .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
      .replace(/\$\{?[a-zA-Z_]+\}?/g, " ");                 // Grafana variables
    const out = new Set();
    for (const m of e.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)) {
      if (m[1] || keywords.has(m[0].toLowerCase())) continue;
      if (/^\d/.test(m[0])) continue;
      out.add(m[0]);
    }
    return out;
  };
  const used = new Set();
  const check = (where, expr) => {
    for (const n of metricsIn(expr)) {
      used.add(n);
      if (!known(n)) problem(where, `metric ${n} is not registered in src/ nor listed in ${pendingFile} or external-metrics.txt`);
    }
  };
  const rules = YAML.parse(read("deploy/monitoring/alerts.yaml"));
  for (const g of rules.groups ?? []) {
    for (const r of g.rules ?? []) {
      const where = `alerts.yaml ${r.alert ?? r.record}`;
      check(where, r.expr);
      if (r.alert && !r.annotations?.runbook) problem(where, "no runbook annotation");
      if (r.record) registered.add(r.record);
    }
  }
  const dashboard = JSON.parse(read("deploy/monitoring/grafana-dashboard.json"));
  for (const panel of dashboard.panels ?? []) {
    for (const t of panel.targets ?? []) check(`grafana-dashboard.json "${panel.title}"`, t.expr ?? "");
  }
  for (const p of pending) {
    if (registered.has(p)) {
      console.log(`check-manifests: note: ${p} is now registered in src/; remove it from ${pendingFile}`);
    }
  }
}

for (const p of problems) console.log(`check-manifests: ${p}`);
const count = all.length;
if (problems.length) {
  console.log(`check-manifests: ${problems.length} problem(s) in ${count} objects of ${renders.map((r) => r.name).join(", ")}`);
  process.exit(1);
}
console.log(`check-manifests: ${count} objects of ${renders.map((r) => r.name).join(", ")} valid; compose, Dockerfile inputs and monitoring consistent`);
