// Placeholder: replaced by the services provisioning (vitals services up) integration.
export default async function setup(): Promise<void> {}
