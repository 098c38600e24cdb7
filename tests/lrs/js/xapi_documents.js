// Driven by tests/lrs/test_documents_xapi_js.py: node xapi_documents.js ENDPOINT KEY SECRET
// @xapi/xapi drives the document resources; prints one JSON line of results (or exits 1 with the failure).
const XAPI = require("@xapi/xapi").default || require("@xapi/xapi");
const [endpoint, key, secret] = process.argv.slice(2);
const xapi = new XAPI({ endpoint, auth: XAPI.toBasicAuth(key, secret), version: "1.0.3" });
const agent = { objectType: "Agent", name: "Learner Two", mbox: "mailto:learner.two@example.org" };
const activityId = "https://example.org/xapi/course/js";
const out = {};
(async () => {
  await xapi.createState({ agent, activityId, stateId: "bookmark", state: { page: 1 } });
  await xapi.createState({ agent, activityId, stateId: "bookmark", state: { seen: true } });  // POST: merged
  out.state = (await xapi.getState({ agent, activityId, stateId: "bookmark" })).data;
  await xapi.setState({ agent, activityId, stateId: "notes", state: { text: "hi" } });
  out.stateIds = (await xapi.getStates({ agent, activityId })).data;
  await xapi.deleteState({ agent, activityId, stateId: "notes" });
  out.afterDelete = (await xapi.getStates({ agent, activityId })).data;
  await xapi.deleteStates({ agent, activityId });
  out.afterClear = (await xapi.getStates({ agent, activityId })).data;

  await xapi.setActivityProfile({ activityId, profileId: "settings", profile: { theme: "dark" }, etag: "*", matchHeader: "If-None-Match" });
  const first = await xapi.getActivityProfile({ activityId, profileId: "settings" });
  out.etag = first.headers.etag;
  try {
    await xapi.setActivityProfile({ activityId, profileId: "settings", profile: { theme: "x" }, etag: '"0000"', matchHeader: "If-Match" });
    out.staleStatus = 204;
  } catch (e) { out.staleStatus = e.response ? e.response.status : String(e); }
  await xapi.setActivityProfile({ activityId, profileId: "settings", profile: { theme: "light" }, etag: first.headers.etag, matchHeader: "If-Match" });
  await xapi.createActivityProfile({ activityId, profileId: "settings", profile: { font: "large" } });
  out.activityProfile = (await xapi.getActivityProfile({ activityId, profileId: "settings" })).data;
  out.activityProfileIds = (await xapi.getActivityProfiles({ activityId })).data;
  await xapi.deleteActivityProfile({ activityId, profileId: "settings" });

  await xapi.setAgentProfile({ agent, profileId: "prefs", profile: { lang: "en" }, etag: "*", matchHeader: "If-None-Match" });
  await xapi.createAgentProfile({ agent, profileId: "prefs", profile: { audio: "on" } });
  out.agentProfile = (await xapi.getAgentProfile({ agent, profileId: "prefs" })).data;
  out.agentProfileIds = (await xapi.getAgentProfiles({ agent })).data;
  await xapi.deleteAgentProfile({ agent, profileId: "prefs" });
  out.agentProfileIdsAfter = (await xapi.getAgentProfiles({ agent })).data;

  out.person = (await xapi.getAgent({ agent })).data;
  out.activity = (await xapi.getActivity({ activityId })).data;
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e.response ? `${e.response.status} ${JSON.stringify(e.response.data)} ${e.config && e.config.url}` : e);
  process.exit(1);
});
