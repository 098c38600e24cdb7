// Driven by tests/lrs/test_statements_xapi_js.py: node xapi_statements.js ENDPOINT KEY SECRET
// @xapi/xapi saves, gets, queries (paging with `more`) and voids statements; prints one JSON line of results.
const XAPI = require("@xapi/xapi").default || require("@xapi/xapi");
const [endpoint, key, secret] = process.argv.slice(2);
const xapi = new XAPI({ endpoint, auth: XAPI.toBasicAuth(key, secret), version: "1.0.3" });
const actor = { objectType: "Agent", name: "Learner Js", mbox: "mailto:learner.js@example.org" };
const verb = { id: "http://adlnet.gov/expapi/verbs/experienced", display: { "en-US": "experienced" } };
const activityId = "https://example.org/xapi/js/statements";
const statement = (n) => ({ actor, verb, object: { objectType: "Activity", id: `${activityId}/${n}` } });
const out = {};
(async () => {
  out.oneId = (await xapi.sendStatement({ statement: statement(0) })).data[0];
  out.manyIds = (await xapi.sendStatements({ statements: [1, 2, 3, 4].map(statement) })).data;
  const one = (await xapi.getStatement({ statementId: out.oneId })).data;
  out.gotObject = one.object.id;
  out.gotStored = typeof one.stored === "string";
  const seen = [];
  let page = (await xapi.getStatements({ agent: actor, verb: verb.id, limit: 2, ascending: true })).data;
  out.pages = 0;
  for (;;) {
    out.pages += 1;
    seen.push(...page.statements.map((s) => s.id));
    if (!page.more || out.pages > 10) break;
    page = (await xapi.getMoreStatements({ more: page.more })).data;
  }
  out.queried = seen;
  out.voidingId = (await xapi.voidStatement({ actor, statementId: out.manyIds[0] })).data[0];
  try {
    await xapi.getStatement({ statementId: out.manyIds[0] });
    out.voidedByIdStatus = 200;
  } catch (e) { out.voidedByIdStatus = e.response ? e.response.status : String(e); }
  const voided = (await xapi.getVoidedStatement({ voidedStatementId: out.manyIds[0] })).data;
  out.voidedObject = voided.object.id;
  out.afterVoid = (await xapi.getStatements({ verb: verb.id, limit: 0 })).data.statements.map((s) => s.id);
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e.response ? `${e.response.status} ${JSON.stringify(e.response.data)} ${e.config && e.config.url}` : e);
  process.exit(1);
});
