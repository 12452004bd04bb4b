import fs from 'node:fs'; import zlib from 'node:zlib'; import { promisify } from 'node:util';
import { decodeRgb, encodeRgb } from '@unseg/core';
const deflate = promisify(zlib.deflate);
const dir='../shared/data/coco-facades/train';
const files=fs.readdirSync(dir).filter(f=>f.endsWith('.jpg')).slice(0,20);
const imgs=[];for(const f of files) imgs.push((await decodeRgb(dir+'/'+f)).image);
function noised(im, eps){const d=new Uint8Array(im.data);let s=12345;for(let i=0;i<d.length;i++){s=(s*1103515245+12345)>>>0;const n=(s>>>16)%(2*eps+1)-eps;const y=d[i]+n;d[i]=y<0?0:y>255?255:y;}return {...im,data:d};}
function chunk(type, data){const b=Buffer.alloc(12+data.length);b.writeUInt32BE(data.length,0);b.write(type,4,'latin1');Buffer.from(data.buffer,data.byteOffset,data.length).copy(b,8);b.writeUInt32BE(zlib.crc32(b.subarray(4,8+data.length)),8+data.length);return b;}
async function png(im, opts){const {width:w,height:h,data:d}=im;const rs=w*3;const raw=new Uint8Array((rs+1)*h);
  for(let y=0;y<h;y++){const o=y*(rs+1);raw[o]=2;const r=y*rs;if(y===0){raw.set(d.subarray(0,rs),o+1);continue;}for(let x=0;x<rs;x++)raw[o+1+x]=d[r+x]-d[r+x-rs];}
  const z=await deflate(raw, {...opts, chunkSize: raw.length+65536});
  const ihdr=Buffer.alloc(13);ihdr.writeUInt32BE(w,0);ihdr.writeUInt32BE(h,4);ihdr[8]=8;ihdr[9]=2;
  return Buffer.concat([Buffer.from([137,80,78,71,13,10,26,10]),chunk('IHDR',ihdr),chunk('IDAT',z),chunk('IEND',new Uint8Array(0))]);}
const set=imgs.map(i=>noised(i,8));
for (const [name, enc] of [['sharp', (im)=>encodeRgb(im)], ['huff', (im)=>png(im,{level:1,strategy:zlib.constants.Z_HUFFMAN_ONLY})], ['l1', (im)=>png(im,{level:1})]]) {
  for (const conc of [1,2]) {
  let t=performance.now(); let sz=0; let dec=0; const outs=[];
  const cpu0=process.cpuUsage();
  for(let i=0;i<set.length;i+=conc){ const bs=await Promise.all(set.slice(i,i+conc).map(enc)); outs.push(...bs);}
  const encMs=(performance.now()-t)/set.length; const cpu=process.cpuUsage(cpu0);
  t=performance.now(); let ok=true;
  for(let i=0;i<outs.length;i+=conc){ const ds=await Promise.all(outs.slice(i,i+conc).map(b=>decodeRgb(b))); ds.forEach((d,j)=>{ if(Buffer.compare(Buffer.from(d.image.data), Buffer.from(set[i+j].data))!==0) ok=false;}); }
  const decMs=(performance.now()-t)/set.length;
  console.log(name,'conc',conc,'enc',encMs.toFixed(1),'ms/img wall; cpu', ((cpu.user+cpu.system)/1000/set.length).toFixed(1),'ms/img; dec',decMs.toFixed(1),'ms/img', (outs.reduce((a,b)=>a+b.length,0)/outs.length/1e6).toFixed(2),'MB', ok?'exact':'MISMATCH');
  }
}
