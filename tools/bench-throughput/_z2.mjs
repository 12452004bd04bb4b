import fs from 'node:fs'; import zlib from 'node:zlib';
import { decodeRgb } from '@unseg/core';
const mainCpu=()=>{const f=fs.readFileSync(`/proc/self/task/${process.pid}/stat`,'utf8');const x=f.slice(f.lastIndexOf(')')+2).split(' ');return (Number(x[11])+Number(x[12]))*10;};
const dir='../shared/data/coco-facades/train';
const files=fs.readdirSync(dir).filter(f=>f.endsWith('.jpg')).slice(0,10);
const raws=[];for(const f of files){const im=(await decodeRgb(dir+'/'+f)).image; const d=new Uint8Array(im.data.length+1024); d.set(im.data); for(let i=0;i<d.length;i++) d[i]=(d[i]+((i*2654435761)>>>29))&255; raws.push(d);}
const opts={level:1,strategy:zlib.constants.Z_HUFFMAN_ONLY};
function stream(b, chunkSize){return new Promise((res,rej)=>{const p=[];const z=zlib.createDeflate({...opts,chunkSize});z.on('data',x=>p.push(x));z.on('error',rej);z.on('end',()=>res(p));z.end(b);});}
const variants={ 'stream256K':b=>stream(b,256*1024), 'stream16K':b=>stream(b,16*1024), 'streamBound':b=>stream(b,b.length+b.length/1000+1024|0), 'deflateCb':b=>new Promise((r,j)=>zlib.deflate(b,opts,(e,x)=>e?j(e):r(x))), 'deflateCbBig':b=>new Promise((r,j)=>zlib.deflate(b,{...opts,chunkSize:b.length+65536},(e,x)=>e?j(e):r(x)))};
for (let rep=0;rep<2;rep++) for (const [name,f] of Object.entries(variants)) {
  const m0=mainCpu(); const c0=process.cpuUsage(); const t=performance.now();
  for (let k=0;k<3;k++) for(let i=0;i<raws.length;i+=2) await Promise.all([f(raws[i]),f(raws[i+1])]);
  const n=raws.length*3; const c=process.cpuUsage(c0);
  console.log(name.padEnd(14),'wall',((performance.now()-t)/n).toFixed(1),'ms/img main',((mainCpu()-m0)/n).toFixed(1),'ms total cpu',((c.user+c.system)/1000/n).toFixed(1));
}
