import * as tf from '@tensorflow/tfjs';
import { initUNet, unetDivisor, unetForward, type ParamMap, type UNetSpec } from './unet.js';

/** Everything needed to rebuild a generator besides its weights; stored as generator.json. */
export interface GeneratorConfig {
  readonly format: 'unseg-generator';
  readonly version: 1;
  /** U-Net channels per level. Input: RGB + prompt mask (4 channels); output: 3 channels. */
  readonly widths: readonly number[];
  /** Short side (pixels) at which G runs; its noise is resized (bilinear) to the image's size. */
  readonly workingSize: number;
  /**
   * Subtract each channel's per-image spatial mean from the pre-tanh output. A small G tends
   * to collapse to a constant colour tint (tanh saturated to one sign per channel); with the
   * mean removed a constant output is exactly zero, so only spatial structure can carry signal.
   */
  readonly centre: boolean;
  /**
   * 'rgb' (also when absent): three independent noise channels. 'luma': G has one output
   * channel, written to R, G and B alike, so the noise is a grey texture: hue and saturation
   * jitter in a trainer's augmentation and a grayscale conversion leave it whole, where they
   * rotate, scale or erase a colour code.
   */
  readonly noise?: 'rgb' | 'luma';
  /**
   * Stripe width, in working-resolution pixels, of a fixed +-1 carrier (horizontal stripes) that
   * G's output multiplies; absent: no carrier. G runs at the working size, so on its own it can
   * only make noise that is smooth at the image's size, and smooth noise did not protect (model
   * card); the carrier is made at the image's own size (stripes `carrier * shortSide /
   * workingSize` px wide, 8 px for carrier 1 on a 1024-px image), so G chooses, per region, the
   * colour and sign of a fine texture instead of the texture itself.
   */
  readonly carrier?: number;
  /** Free-form provenance (training command, seed, data) recorded by the trainer. */
  readonly training?: Readonly<Record<string, unknown>>;
}

export const GENERATOR_PREFIX = 'G';

export function generatorSpec(config: Pick<GeneratorConfig, 'widths' | 'noise'>): UNetSpec {
  return { inChannels: 4, outChannels: config.noise === 'luma' ? 1 : 3, widths: config.widths };
}

export function defaultGeneratorConfig(overrides: Partial<GeneratorConfig> = {}): GeneratorConfig {
  return { format: 'unseg-generator', version: 1, widths: [16, 32, 64], workingSize: 128, centre: true, noise: 'rgb', ...overrides };
}

export interface Generator {
  readonly config: GeneratorConfig;
  readonly params: ParamMap;
  /** x: [N,H,W,3] in [0,1], prompt: [N,H,W,1] in {0,1}; returns directions in [-1,1]. */
  forward(x: tf.Tensor4D, prompt: tf.Tensor4D): tf.Tensor4D;
  /** The same without the carrier (equal to `forward` when there is none): what is resized up at generation. */
  field(x: tf.Tensor4D, prompt: tf.Tensor4D): tf.Tensor4D;
  dispose(): void;
}

export function buildGenerator(config: GeneratorConfig, params: ParamMap): Generator {
  const spec = generatorSpec(config);
  const field = (x: tf.Tensor4D, prompt: tf.Tensor4D): tf.Tensor4D =>
    tf.tidy(() => {
      const input = tf.concat([x.mul(2).sub(1), prompt.mul(2).sub(1)], 3) as tf.Tensor4D;
      let pre = unetForward(spec, params, GENERATOR_PREFIX, input);
      if (config.centre) pre = pre.sub(pre.mean([1, 2], true));
      const direction = tf.tanh(pre);
      return config.noise === 'luma' ? tf.tile(direction, [1, 1, 1, 3]) : direction;
    });
  return {
    config,
    params,
    field,
    forward(x, prompt) {
      const carrier = config.carrier;
      if (!carrier) return field(x, prompt);
      return tf.tidy(() => {
        const h = x.shape[1];
        const rows = Float32Array.from({ length: h }, (_, y) => carrierSign(y, carrier));
        return field(x, prompt).mul(tf.tensor4d(rows, [1, h, 1, 1]));
      });
    },
    dispose() {
      for (const v of params.values()) v.dispose();
    },
  };
}

/** The carrier at row y (pixel centres), for stripes `width` pixels wide: +1 or -1. */
export function carrierSign(y: number, width: number): 1 | -1 {
  return Math.floor((y + 0.5) / width) & 1 ? -1 : 1;
}

export function createGenerator(config: GeneratorConfig, seed: number): Generator {
  return buildGenerator(config, initUNet(generatorSpec(config), GENERATOR_PREFIX, seed));
}

/** How much longer than workingSize a working image's long side may be (a 4:1 panorama at most). */
export const MAX_WORKING_ASPECT = 4;

/**
 * The working size for an image: short side = workingSize, both sides divisible by the U-Net's
 * stride; for an image longer than 4:1 the long side is held at 4 x workingSize instead (an
 * 8000x50 strip would otherwise run the network at 20480x128 and exhaust its memory).
 */
export function workingShape(config: GeneratorConfig, width: number, height: number): [number, number] {
  const d = unetDivisor(generatorSpec(config));
  const s = Math.min(config.workingSize / Math.min(width, height), (MAX_WORKING_ASPECT * config.workingSize) / Math.max(width, height));
  const round = (v: number) => Math.max(d, Math.round((v * s) / d) * d);
  return [round(height), round(width)];
}
