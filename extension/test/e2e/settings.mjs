// Workspace settings for test workspaces: nothing may pop up over the notebook or reach for
// the network (the machine has none). Application-wide settings are refused here.
export const WORKSPACE_SETTINGS = {
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "telemetry.telemetryLevel": "off",
  "chat.disableAIFeatures": true,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
};
