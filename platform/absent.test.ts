import { describe, expect, it } from 'vitest';
import { absentBus, absentStore } from './absent.js';

describe('absent ports', () => {
  it('say what they are: a stand-in, not an adapter', () => {
    expect(absentStore().kind).toBe('absent');
    expect(absentBus().kind).toBe('absent');
  });
  it('refuse any use as a wiring bug', async () => {
    await expect(absentStore().insertSamples([])).rejects.toMatchObject({ code: 'VTL_ERR_INTERNAL', message: expect.stringContaining('the store is not configured') });
    await expect(absentBus().publish('t', [])).rejects.toMatchObject({ code: 'VTL_ERR_INTERNAL', message: expect.stringContaining('the bus is not configured') });
  });
});
