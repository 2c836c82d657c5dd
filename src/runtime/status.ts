/**
 * What a replica's GET /status answers. Types only: the dashboard page (web/) reads it too, so
 * this file must not import Node modules.
 */

export interface ReplicaStatus {
  id: number;
  view: number;
  primary: number;
  isPrimary: boolean;
  status: string;
  lastExecuted: number;
  stableCheckpoint: number;
  /** Replicas this one has a live link to. */
  peers: number[];
  /** Client keys connected to this replica. */
  clients: number;
  byzantine: string | null;
  keys: number;
}
