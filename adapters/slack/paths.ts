/** Where Slack's HTTP mode (Events API, interactivity, slash commands) posts. */
export const SLACK_EVENTS_PATH = '/slack/events';
