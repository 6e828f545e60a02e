// What each quality level changes, in one table so the routes, the sources
// and the docs agree.
export const QUALITIES = ['low', 'medium', 'high', 'auto'] as const;
export type Quality = (typeof QUALITIES)[number];

/**
 * Data mode: the cap on the data-channel send rate, bytes per second.
 * `auto` is as fast as backpressure allows, up to 1 MiB/s (a ceiling so that
 * one viewer cannot take a whole core on loopback).
 */
export const DATA_RATE_BPS: Record<Quality, number> = {
  low: 32 * 1024,
  medium: 128 * 1024,
  high: 512 * 1024,
  auto: 1024 * 1024,
};

/**
 * Media mode: `low` sends only the video keyframes (1 frame/s for the sample
 * clip, encoded with a keyframe every 30 frames) and all the audio; the other
 * levels send every frame. Dropping whole frames and renumbering the packets
 * keeps the stream decodable without a re-encode.
 */
export const KEYFRAMES_ONLY: Record<Quality, boolean> = { low: true, medium: false, high: false, auto: false };
