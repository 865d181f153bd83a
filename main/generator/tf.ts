// TensorFlow.js (tfjs-core + the pure-JS CPU backend), with its gradients registered.
//
// Why the resolve hook: tfjs-core's Node bundle (dist/tf-core.node.js) carries no gradient
// definitions; they ship only as ES module files (dist/register_all_gradients.js and gradients/*)
// whose relative imports omit the `.js` extension, which Node's ESM resolver refuses. The hook adds
// the extension for files inside tfjs-core's dist folder and nothing else. The gradients then register
// into the engine and registries that tfjs keeps on globalThis, i.e. the same ones the Node bundle
// uses, so tf.variableGrads and tf.train.adam work on the CPU backend.
import { registerHooks } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

let hooked = false;
let ready: Promise<typeof tf> | null = null;

/** The tf namespace with the CPU backend active and gradients registered. Idempotent. */
export function loadTf(): Promise<typeof tf> {
  ready ??= (async () => {
    if (!hooked) {
      hooked = true;
      registerHooks({
        resolve(specifier, context, nextResolve) {
          if (specifier.startsWith('.') && !specifier.endsWith('.js')
            && context.parentURL?.includes('/@tensorflow/tfjs-core/dist/')) {
            return nextResolve(specifier + '.js', context);
          }
          return nextResolve(specifier, context);
        },
      });
    }
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    tf.env().set('PROD', true);   // silences the "install tfjs-node" banner; training is unchanged
    await tf.setBackend('cpu');
    return tf;
  })();
  return ready;
}

export type Tf = typeof tf;
export type Tensor = tf.Tensor;
