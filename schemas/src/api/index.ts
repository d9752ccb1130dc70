export * from './accounts.ts';
export * from './calls.ts';
export * from './common.ts';
export * from './subscriptions.ts';
export * from './tariffs.ts';
