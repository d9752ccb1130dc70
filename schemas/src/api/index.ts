export * from './accounts.ts';
export * from './auth.ts';
export * from './calls.ts';
export * from './common.ts';
export * from './freeswitch.ts';
export * from './subscriptions.ts';
export * from './tariffs.ts';
export * from './views.ts';
