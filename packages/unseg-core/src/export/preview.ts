import sharp from 'sharp';
import { ConfigError } from '../errors.js';
import { decodeRgb } from '../image/codec.js';
import type { RgbImage } from '../image/types.js';
import { rleDecode, rleFromString, rleUnion } from '../masks/index.js';
import { protect, type PipelineOptions } from '../engine/pipeline.js';
import { inPrompt, type PromptSelection } from '../engine/prompt.js';
import { SampleError } from '../errors.js';
import type { Sample } from '../plugin/types.js';
import type { NoiseStats } from '../shards/types.js';

/** The tallest panel drawn, in pixels. */
const MAX_PANEL_HEIGHT = 4096;

export interface PreviewOptions extends PipelineOptions {
  /** Width of each of the four panels in pixels (default 256). */
  readonly panelWidth?: number;
  /** How much the noise is amplified in the third panel (default 16: 127 + 16 * delta). */
  readonly gain?: number;
  /** Extra caption text (e.g. the noise source's name). */
  readonly label?: string;
}

export interface Preview {
  /** The PNG: original | protected | amplified noise | prompt mask, with a caption. */
  readonly png: Buffer;
  readonly noise: NoiseStats;
  readonly caption: string;
}

const escapeXml = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

function panel(image: RgbImage, width: number): sharp.Sharp {
  return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  }).resize({ width, kernel: 'lanczos3' });
}

/**
 * A preview of one sample, made through the library pipeline itself ({@link protect}), so the
 * picture shows exactly what a run would publish: the decoded published PNG, not a second
 * rendition of the noise. Fails with the sample's reason when the pipeline does not publish it.
 */
export async function renderPreview(sample: Sample, options: PreviewOptions): Promise<Preview> {
  async function* one(): AsyncGenerator<Sample> {
    yield sample;
  }
  let record;
  for await (const out of protect(one(), options)) {
    if (out.kind === 'failed') throw new SampleError(out.failure.file, out.failure.reason, { sampleId: out.failure.id, code: out.failure.code });
    record = out.record;
  }
  if (!record) throw new ConfigError(`sample ${sample.id}: the pipeline yielded nothing`);
  const original = (await decodeRgb(sample.image.kind === 'file' ? sample.image.path : sample.image.bytes, options)).image;
  const published = (await decodeRgb(record.image.bytes, options)).image;
  const { width, height } = original;
  const gain = options.gain ?? 16;
  const noise = new Uint8Array(original.data.length);
  for (let i = 0; i < noise.length; i++) {
    noise[i] = Math.max(0, Math.min(255, Math.round(127 + gain * ((published.data[i] as number) - (original.data[i] as number)))));
  }
  const prompt: PromptSelection = options.prompt ?? { kind: 'all' };
  const promptObjects = sample.objects.filter((o) => inPrompt(o, prompt)).map((o) => o.id);
  const rles = record.objects.filter((o) => promptObjects.includes(o.id)).map((o) => rleFromString(o.rle, height, width));
  const mask = rleDecode(rleUnion(rles, height, width)).data;
  const maskRgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < mask.length; i++) maskRgb.fill(mask[i] ? 255 : 0, i * 3, i * 3 + 3);

  // A tall, narrow image would make panels of its width hundreds of thousands of pixels high.
  const pw = Math.max(1, Math.min(options.panelWidth ?? 256, Math.round((MAX_PANEL_HEIGHT * width) / height)));
  const ph = Math.max(1, Math.round((height * pw) / width));
  const panels = await Promise.all(
    [original, published, { width, height, data: noise }, { width, height, data: maskRgb }].map((im) => panel(im, pw).png().toBuffer()),
  );
  const fg = Math.round(options.budget.epsFg * 255 * 100) / 100;
  const bg = Math.round(options.budget.epsBg * 255 * 100) / 100;
  const n = record.noise;
  const caption =
    `${options.label ? `${options.label}, ` : ''}budget fg ${fg}/255 bg ${bg}/255; max |delta| fg ${n.maxAbsFg} bg ${n.maxAbsBg}; ` +
    `PSNR ${n.psnr.toFixed(2)} dB; prompt ${(n.promptFraction * 100).toFixed(1)}% of pixels`;
  const titles = ['original', 'protected', `noise x${gain} (127 = none)`, 'prompt mask (eps fg)'];
  const band = 44;
  const total = pw * 4;
  const text = (x: number, y: number, s: string, size: number) =>
    `<text x="${x}" y="${y}" font-family="DejaVu Sans, Arial, sans-serif" font-size="${size}" fill="#000">${escapeXml(s)}</text>`;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="${band}">` +
    titles.map((t, i) => text(i * pw + 4, 16, t, 12)).join('') +
    text(4, 36, caption, Math.min(12, Math.floor((total - 8) / (caption.length * 0.55)))) +
    `</svg>`;
  const png = await sharp({ create: { width: total, height: ph + band, channels: 3, background: '#ffffff' } })
    .composite([
      ...panels.map((input, i) => ({ input, left: i * pw, top: 0 })),
      { input: Buffer.from(svg), left: 0, top: ph },
    ])
    .png()
    .toBuffer();
  return { png, noise: n, caption };
}
