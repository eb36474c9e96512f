/** A committed event as the campaign reads it from the control API (`events`). */
export interface CampaignEvent {
  readonly id: number;
  readonly term: number;
  readonly time: string;
  readonly type: string;
  readonly member: string | null;
  readonly service: string | null;
  readonly details: Readonly<Record<string, unknown>>;
  readonly hash: string;
}
