/**
 * Alert message text for each rule kind. Messages describe the condition and never
 * carry patient identifiers; rule.message, when set, replaces the generated text.
 */
import type { News2Risk } from './news2.js';
import type { Condition, Rule } from './rules-config.js';
import { METRICS, type MetricName } from './vitals.js';

/** A duration as people say it: 45 s, 2 min, 1.5 h. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${ms / 1000} s`;
  if (ms < 7_200_000) return `${Math.round((ms / 60_000) * 10) / 10} min`;
  return `${Math.round((ms / 3_600_000) * 10) / 10} h`;
}

function unit(m: MetricName): string {
  const u = METRICS[m].unit;
  return u === 'Cel' ? ' °C' : u === 'mm[Hg]' ? ' mmHg' : u === '%' ? '%' : ` ${u}`;
}

/** "SpO2 < 90% for 60 s" */
export function conditionText(c: Condition, forMs: number): string {
  const base = `${METRICS[c.metric].label} ${c.op} ${c.value}${unit(c.metric)}`;
  return forMs > 0 ? `${base} for ${formatDuration(forMs)}` : base;
}

const RISK_TEXT: Record<News2Risk, string> = {
  low: 'NEWS2 low risk',
  'low-medium': 'NEWS2 low–medium risk (3 in a single parameter): urgent ward-based review',
  medium: 'NEWS2 medium risk (5–6): urgent response',
  high: 'NEWS2 high risk (≥7): emergency response',
};

/**
 * The message of an alert when it is raised or escalated.
 * @param rule - the rule in force
 * @param escalatedLevel - true when a threshold rule's escalate level is the cause
 * @param risk - NEWS2 risk, for news2 rules
 */
export function ruleMessage(rule: Rule, escalatedLevel: boolean, risk?: News2Risk): string {
  if (rule.message !== null) return rule.message;
  switch (rule.type) {
    case 'threshold':
      return escalatedLevel && rule.escalate
        ? conditionText(rule.escalate.condition, rule.escalate.forMs)
        : conditionText(rule.condition, rule.forMs);
    case 'rate':
      return `${METRICS[rule.metric].label} ${rule.change > 0 ? 'rose' : 'fell'} by ${Math.abs(rule.change)}${unit(rule.metric)} or more within ${formatDuration(rule.windowMs)}`;
    case 'news2':
      return RISK_TEXT[risk ?? 'low'];
    case 'missing':
      return `No ${METRICS[rule.metric].label.toLowerCase()} data for ${formatDuration(rule.afterMs)}: monitoring interrupted`;
    case 'battery':
      return `Device battery below ${Math.round(rule.below * 100)}%`;
    case 'shock-index':
      return rule.fall > 0
        ? `Shock index (HR / systolic) ${rule.above} or more with systolic fallen by ${rule.fall} mmHg or more within ${formatDuration(rule.windowMs)}`
        : `Shock index (HR / systolic) ${rule.above} or more`;
  }
}
